"""The embedded PostgreSQL (pgserver) that makes `make run` work on a bare machine."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from app.core.settings import Settings, normalise_database_url

_servers: dict[Path, Any] = {}


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded server in `data_dir` and return an asyncpg URL for it.
    The server stops when the last process using it exits (cleanup_mode="stop")."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR in containers
        warnings.simplefilter("ignore")
        try:
            import pgserver  # imported lazily: only needed without DATABASE_URL
        except ImportError:
            raise RuntimeError(
                "DATABASE_URL is unset and the embedded PostgreSQL is not installed "
                "(pip install 'scorecard[embedded]')"
            ) from None

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir not in _servers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _servers[data_dir] = pgserver.get_server(  # type: ignore[attr-defined]
                data_dir, cleanup_mode=cleanup_mode
            )
    return normalise_database_url(_servers[data_dir].get_uri())


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise start the embedded server and export its URL so that
    child processes (uvicorn workers) use the same one."""
    if settings.database_url:
        return settings.database_url
    url = start_embedded(settings.scorecard_data_dir / "postgres")
    os.environ["DATABASE_URL"] = url
    return url


def stop_embedded(data_dir: Path) -> None:
    """Stop (and, with cleanup_mode="delete", remove) an embedded server this process started,
    now rather than at interpreter exit — e.g. before its temporary directory disappears."""
    server = _servers.pop(data_dir.resolve(), None)
    if server is not None:
        server.cleanup()
