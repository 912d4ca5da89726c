"""Webhook subscriptions, the event outbox and signed, retried delivery (docs/webhooks.md)."""
