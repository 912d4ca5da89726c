"""API keys and scopes (docs/security.md)."""
