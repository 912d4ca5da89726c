"""The log formatter's second line of defence: secrets are redacted from every rendered line,
ours and foreign, including exception text and tracebacks, in both formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from app.auth.keys import hash_key
from app.core.logging import configure_logging

KEY = "sc_" + "Zq3-_x" * 7 + "a"  # the shape of app/auth/keys.py's keys (43 characters)
KEY_HASH = hash_key(KEY)
SECRET = "whsec_bXkgc2lnbmluZyBzZWNyZXQgaXMgdGhpcnR5LXR3byBi+/="


@pytest.fixture(params=["json", "console"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    configure_logging("INFO", request.param)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    configure_logging("WARNING", "console")  # as the test session's app configures it


def _fail_with_a_secret_in_scope() -> None:
    plaintext = KEY  # a local: rich tracebacks would print it
    raise RuntimeError(
        f"insert failed for {plaintext[:10]}: secret {SECRET}\n"
        f"DETAIL:  Key (key_hash)=({KEY_HASH}) already exists."
    )


def test_exceptions_and_fields_are_redacted(captured):
    log = structlog.get_logger("tests.redaction")
    try:
        _fail_with_a_secret_in_scope()
    except RuntimeError as exc:
        log.exception("boom", key=KEY, nested={"secrets": [SECRET]}, error=exc)
    logging.getLogger("sqlalchemy.engine").error("params %s %s", KEY_HASH, SECRET)
    output = captured.getvalue()
    assert "boom" in output and "params" in output and "RuntimeError" in output
    assert "[REDACTED]" in output
    assert "sc_Zq3-_x" in output  # the 10-character display prefix is not a secret
    for secret in (KEY, KEY_HASH, SECRET, "already exists"):
        assert secret not in output


def test_json_lines_stay_valid_json(captured):
    structlog.get_logger("tests.redaction").warning("x", value=f'"{SECRET}"\\{KEY_HASH}')
    for line in captured.getvalue().splitlines():
        if line.startswith("{"):
            assert json.loads(line)["event"] == "x"
