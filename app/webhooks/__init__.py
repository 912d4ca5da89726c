"""Webhook subscriptions, the event outbox and signed, retried delivery (SPEC §5)."""
