"""Crossing detection: a measure's stored status follows its score, and each change is an event
in the outbox. Writers lock measures and refresh their statuses here (`status`), carrying window
statistics forward from their own writes (`increments`); the sweeper catches the crossings that
time alone makes (`sweeper`, run by `app.background`)."""
