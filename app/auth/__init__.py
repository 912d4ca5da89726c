"""API keys and scopes (SPEC §7)."""
