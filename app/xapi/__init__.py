"""A minimal xAPI 1.0.3 LRS: statements in, readings out (docs/ingestion.md)."""
