"""The audit log: who changed what through the API. Every domain calls `record(...)` in the
transaction of its change (app/audit/log.py); admins read it at `GET /v1/audit`."""
