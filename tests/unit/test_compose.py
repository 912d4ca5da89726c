"""compose.yaml: PostgreSQL, PgBouncer, a one-shot migration, two API replicas without
in-process workers and two `scorecard worker`s, each configured as the app reads it.

Checked as `docker compose config` resolves it when the compose plugin is installed (it parses
without an engine), else as PyYAML reads it (anchors and merge keys resolved): the same checks
either way."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import typer
import yaml
from sqlalchemy import make_url

from app.cli import cli
from app.core.settings import Settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def resolved_compose() -> dict[str, Any]:
    docker = shutil.which("docker")
    if docker is not None:
        resolved = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "--format", "json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if resolved.returncode == 0:
            return json.loads(resolved.stdout)  # type: ignore[no-any-return]
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def parse_command(command: list[str]) -> tuple[str, dict[str, Any]]:
    """The `scorecard` subcommand and its parsed options, as the CLI would parse them."""
    program, name, *args = command
    assert program == "scorecard"
    group = typer.main.get_command(cli)
    subcommand = group.commands[name]  # type: ignore[attr-defined]
    return name, subcommand.make_context(name, list(args)).params


def check_environment(environment: dict[str, str]) -> None:
    known = {name.upper() for name in Settings.model_fields} | {"PORT"}
    assert set(environment) <= known, set(environment) - known
    settings = Settings(**{name.lower(): value for name, value in environment.items()})
    assert settings.scorecard_db_pgbouncer
    pooled, direct = (
        make_url(settings.database_url),
        make_url(settings.scorecard_direct_database_url),
    )
    assert (pooled.host, pooled.port) == ("pgbouncer", 6432)
    assert (direct.host, direct.port) == ("postgres", 5432)
    assert pooled.database == direct.database == "scorecard"


def test_compose_runs_the_scale_out_layout():
    compose = resolved_compose()
    services = compose["services"]
    assert set(services) == {"postgres", "pgbouncer", "migrate", "api", "worker"}

    assert parse_command(services["migrate"]["command"])[0] == "migrate"
    name, serve = parse_command(services["api"]["command"])
    assert name == "serve"
    assert serve["no_worker"] and serve["no_migrate"] and serve["host"] == "0.0.0.0"
    assert parse_command(services["worker"]["command"])[0] == "worker"
    for name in ("api", "worker"):
        assert int(services[name]["deploy"]["replicas"]) == 2
        # They start once the schema is at head, migrated by the one-shot service.
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    for name in ("migrate", "api", "worker"):
        check_environment({k: str(v) for k, v in services[name]["environment"].items()})
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_pgbouncer_pools_transactions_for_the_compose_database():
    compose = resolved_compose()
    build = compose["services"]["pgbouncer"]["build"]
    context = ROOT / (build["context"] if isinstance(build, dict) else build)
    assert (context / "Dockerfile").is_file()
    config = configparser.ConfigParser()
    config.read(context / "pgbouncer.ini")
    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert config["pgbouncer"]["listen_port"] == "6432"
    target = dict(part.split("=") for part in config["databases"]["scorecard"].split())
    assert target == {"host": "postgres", "port": "5432", "dbname": "scorecard"}
    postgres = compose["services"]["postgres"]["environment"]
    users = (context / "userlist.txt").read_text().split()
    assert users == [f'"{postgres["POSTGRES_USER"]}"', f'"{postgres["POSTGRES_PASSWORD"]}"']
    url = make_url(
        normalise_database_url(compose["services"]["api"]["environment"]["DATABASE_URL"])
    )
    assert (url.username, url.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
