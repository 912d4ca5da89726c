"""Shared plumbing: settings, database, errors, pagination, HTTP conventions."""
