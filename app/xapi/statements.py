"""xAPI 1.0.3 statements, pure: the minimal shape check, the LRS-filled properties, the
comparison rule for repeated ids, and the value a measure's mapping reads from a statement."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.errors import BadRequest
from app.core.schemas import check_timestamp_range, has_control_characters, in_number_bound

VERSION = "1.0.3"
# xAPI 1.0.3 §2.2.1: a statement with this verb voids the statement its object refers to.
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
SUPPORTED_VERSION = re.compile(r"^1\.0(\.\d+)?$")
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
_PROPERTIES = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)
# Set or changed by an LRS, so they never make two statements with one id differ (xAPI 2.3.1).
_LRS_ASSIGNED = ("id", "authority", "stored", "timestamp", "version", "attachments")
_OBJECTS_WITH_ID = (None, "Activity", "StatementRef")
_OBJECT_TYPES = (*_OBJECTS_WITH_ID, "Agent", "Group", "SubStatement")


@dataclass(frozen=True, slots=True)
class Statement:
    id: uuid.UUID
    verb_id: str
    activity_id: str | None  # object.id, unless the object is an Agent, Group or SubStatement
    timestamp: datetime  # as sent, else the time it was stored
    received: dict[str, Any]  # exactly as the client sent it
    voids: uuid.UUID | None = None  # for a voiding statement, the id of the one it voids


def check_statement(raw: Any, stored: datetime, where: str = "statement") -> Statement:
    """The minimal shape an LRS needs (actor, verb.id, object.id; typed result; parseable
    id and timestamp) → a Statement with id and timestamp filled in. Anything else → 400."""

    def bad(message: str) -> BadRequest:
        return BadRequest(f"{where}: {message}")

    if not isinstance(raw, dict):
        raise bad("must be a JSON object")
    if unknown := sorted(set(raw) - _PROPERTIES):
        raise bad(f"unknown properties {unknown}")
    if not isinstance(raw.get("actor"), dict):
        raise bad("actor (an Agent or Group object) is required")
    verb, target = raw.get("verb"), raw.get("object")
    if not isinstance(verb, dict) or not _iri(verb.get("id")):
        raise bad("verb.id (an IRI) is required")
    if not isinstance(target, dict) or target.get("objectType") not in _OBJECT_TYPES:
        raise bad("object must be an Activity, Agent, Group, StatementRef or SubStatement")
    has_id = target.get("objectType") in _OBJECTS_WITH_ID
    if target.get("objectType") == "StatementRef":
        # A statement's id, not an IRI.
        parse_statement_id(target.get("id"), f"{where}: object (a StatementRef)")
    elif has_id and not _iri(target.get("id")):
        raise bad("object.id is required")
    if "version" in raw and not (
        isinstance(raw["version"], str) and SUPPORTED_VERSION.match(raw["version"])
    ):
        raise bad(f"version {raw['version']!r} is not 1.0.x")
    if "result" in raw:  # may be left out, never null
        _check_result(raw["result"], bad)
    voids = None
    if verb["id"] == VOIDED:
        if target.get("objectType") != "StatementRef":
            raise bad("a voiding statement's object must be a StatementRef")
        voids = parse_statement_id(target["id"], f"{where}: object")
    return Statement(
        # v4, not the service's usual v7: LRS clients (TinCanPython) accept versions 1-5 only.
        id=parse_statement_id(raw["id"], where) if "id" in raw else uuid.uuid4(),
        verb_id=verb["id"],
        activity_id=target["id"] if has_id else None,
        timestamp=_timestamp(raw["timestamp"], bad) if "timestamp" in raw else stored,
        received=raw,
        voids=voids,
    )


def parse_statement_id(value: Any, where: str = "statementId") -> uuid.UUID:
    if not isinstance(value, str) or not _UUID.match(value):
        raise BadRequest(f"{where}: id must be a UUID in standard form, got {value!r}")
    return uuid.UUID(value)


def _iri(value: Any) -> bool:
    """A verb's or object's id: kept in a text column too, so no U+0000."""
    return (
        isinstance(value, str) and 0 < len(value) <= 2048 and ":" in value and "\x00" not in value
    )


def _timestamp(value: Any, bad: Any) -> datetime:
    try:
        moment = _instant(value)
    except (TypeError, ValueError):
        raise bad(f"timestamp {value!r} is not ISO 8601") from None
    try:
        # The timestamp becomes a reading's observed_at, which has the API's bounds.
        return check_timestamp_range(moment)
    except ValueError as exc:
        raise bad(f"timestamp {value!r} {exc}") from None


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _instant(value: str) -> datetime:
    if not _DATE_TIME.match(value):  # a date alone, or a week date, is not an instant
        raise ValueError(value)
    moment = datetime.fromisoformat(value)
    # xAPI only recommends an offset; without one, UTC is the common reading.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_result(result: Any, bad: Any) -> None:
    if not isinstance(result, dict):
        raise bad("result must be an object")
    if "success" in result and not isinstance(result["success"], bool):
        raise bad("result.success must be true or false")
    score = result.get("score", {})
    if not isinstance(score, dict):
        raise bad("result.score must be an object")
    for name in ("scaled", "raw", "min", "max"):
        if name in score and not _finite(score[name]):
            raise bad(f"result.score.{name} must be a number")
    if not -1 <= score.get("scaled", 0) <= 1:
        raise bad("result.score.scaled must be between -1 and 1")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def same_statement(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """xAPI's comparison for a repeated id: ignore what an LRS assigns, compare timestamps as
    instants (when both were sent), everything else exactly."""
    if (
        "timestamp" in a
        and "timestamp" in b
        and (_instant(a["timestamp"]) != _instant(b["timestamp"]))
    ):
        return False
    return _without_assigned(a) == _without_assigned(b)


def _without_assigned(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k not in _LRS_ASSIGNED}


def mapped_value(statement: dict[str, Any], value: str) -> float | None:
    """The reading a mapping takes from a statement: `count` → 1; `score_scaled`/`score_raw` →
    result.score.scaled/raw; `success` → 1 or 0; `duration_seconds` → result.duration in
    seconds. None when the statement lacks the field (or it does not parse), or when the
    number is beyond what a reading may hold (the statement is still stored)."""
    result = statement.get("result") or {}
    if value == "count":
        return 1.0
    if value == "success":
        return None if "success" not in result else float(result["success"])
    if value == "duration_seconds":
        return duration_seconds(result.get("duration"))
    number = (result.get("score") or {}).get(value.removeprefix("score_"))
    return None if number is None or not in_number_bound(number) else float(number)


# A reading's subject holds at most this many characters (migration 0010).
MAX_SUBJECT = 200


def actor_identifier(statement: dict[str, Any]) -> str | None:
    """The learner a statement is about, as a reading's `subject`: the actor's inverse
    functional identifier (`mbox`, `mbox_sha1sum`, `openid`, or `account` as `homePage|name`).
    None for an actor without one (an anonymous Group), and for one that a subject cannot hold
    (longer than 200 characters, control characters): the reading is then made without one."""
    actor = statement.get("actor")
    if not isinstance(actor, dict):
        return None
    identifier: Any = None
    for name in ("mbox", "mbox_sha1sum", "openid"):
        if isinstance(actor.get(name), str):
            identifier = actor[name]
            break
    else:
        account = actor.get("account")
        if isinstance(account, dict):
            home_page, account_name = account.get("homePage"), account.get("name")
            if isinstance(home_page, str) and isinstance(account_name, str):
                identifier = f"{home_page}|{account_name}"
    if (
        not isinstance(identifier, str)
        or not identifier
        or len(identifier) > MAX_SUBJECT
        or has_control_characters(identifier)
    ):
        return None
    return identifier


# ISO 8601 durations as xAPI statements carry them: PnDTnHnMnS (weeks too), each number possibly
# with a fraction (xAPI keeps 0.01 s precision). Years and months have no fixed length in
# seconds, so a duration that uses them makes no reading.
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<W>\d+(?:[.,]\d+)?)W)?(?:(?P<D>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+(?:[.,]\d+)?)H)?(?:(?P<M>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<S>\d+(?:[.,]\d+)?)S)?)?$"
)
_SECONDS = {"W": 7 * 86400, "D": 86400, "H": 3600, "M": 60, "S": 1}
_MAX_DURATION_TEXT = 100


def duration_seconds(duration: Any) -> float | None:
    """`result.duration` in seconds (`PT1H30M` → 5400), or None when it is not such a
    duration, or its number of seconds is beyond what a reading may hold."""
    if not isinstance(duration, str) or len(duration) > _MAX_DURATION_TEXT:
        return None
    match = _DURATION.match(duration)
    if match is None:
        return None
    seconds = sum(
        float(number.replace(",", ".")) * _SECONDS[unit]
        for unit, number in match.groupdict().items()
        if number is not None
    )
    return seconds if in_number_bound(seconds) else None


def rendered(
    statement: dict[str, Any], statement_id: uuid.UUID, timestamp: datetime, stored: datetime
) -> dict[str, Any]:
    """A stored statement as the LRS returns it: as received, plus id, timestamp, stored and
    version where the LRS sets them."""
    return {
        **statement,
        "id": str(statement_id),
        "timestamp": statement.get("timestamp") or _iso(timestamp),
        "stored": _iso(stored),
        "version": statement.get("version") or "1.0.0",
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
