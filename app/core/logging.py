"""structlog set-up: JSON lines in production (`LOG_FORMAT=json`), readable console otherwise.

Every line, ours and foreign (uvicorn, SQLAlchemy, Alembic through the stdlib), goes through
one formatter that redacts secrets: webhook signing secrets, API keys, API key hashes, and the
DETAIL of PostgreSQL errors (which quotes row values, e.g. `Key (key_hash)=(…)`). The root
defence is that nothing logs them (engines hide SQL parameters); this catches what slips
through, including exception text and tracebacks."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# The shapes of our secrets. Kept in step with their generators: `whsec_` + base64
# (app/webhooks/signing.py), `sc_` + token_urlsafe(32) (app/auth/keys.py, 43 characters),
# SHA-256 hex digests of keys (app/auth/keys.py). The look-arounds keep longer tokens whole;
# the key pattern needs 20+ characters, so the 10-character display prefix stays readable.
_SECRET_SHAPES = re.compile(
    r"whsec_[A-Za-z0-9+/=]*"
    r"|(?<![A-Za-z0-9_-])sc_[A-Za-z0-9_-]{20,}"
    r"|(?<![0-9A-Fa-f\\])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])"
)
# asyncpg puts a PostgreSQL error's DETAIL in the exception text as its own line; in a repr
# the line break is an escaped "\n". Up to the end of that line either way.
_PG_DETAIL = re.compile(r"DETAIL:.*?(?=\\n|$)", re.MULTILINE)


def redact(text: str) -> str:
    """`text` with anything shaped like a secret, and PostgreSQL DETAIL lines, replaced."""
    if "DETAIL:" in text:
        text = _PG_DETAIL.sub("DETAIL: " + REDACTED, text)
    return _SECRET_SHAPES.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    # Anything else would be rendered through its repr (an exception, a URL, a row): render
    # it here, where it can still be redacted.
    return redact(repr(value))


def redact_event(_: Any, __: str, event_dict: Any) -> Any:
    """Processor, before the renderer: redact every value (the traceback is a string by now)."""
    return {
        key: value if key.startswith("_") else _redact_value(value)
        for key, value in event_dict.items()
    }


def redact_rendered(_: Any, __: str, rendered: Any) -> Any:
    """Processor, after the renderer: the rendered line once more, in case a renderer added
    something (only secret shapes here: they contain no quote or backslash, so JSON stays
    valid)."""
    return _SECRET_SHAPES.sub(REDACTED, rendered) if isinstance(rendered, str) else rendered


def failure_fields(exc: BaseException) -> dict[str, str]:
    """How background jobs log a failure they skip: the error's class and first line, no
    traceback (it would repeat on every pass) and no DETAIL (it can quote row values)."""
    text = str(exc)
    return {
        "error_class": type(exc).__name__,
        "error": redact(text.splitlines()[0][:200]) if text else "",
    }


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # Tracebacks become a plain string before rendering, in both formats: so they
                # can be redacted, and because the console renderer's own (rich) tracebacks
                # print every frame's local variables, plaintext keys included.
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
                redact_rendered,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes one line per request; uvicorn's access log would be a second.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
