"""`make bench` / `python -m bench [--quick] [NAME ...]`: run every benchmark module present.

Each module (`bench.scores`, `bench.crud`, `bench.webhooks`, `bench.write_path`, `bench.audit`,
`bench.ingest`, `bench.memory`, `bench.due`, `bench.replica`) runs in its own process, one after
the other, so one's servers and databases never disturb another's figures. `--quick` is passed
on to each module (a short smoke run); NAMEs pick modules, default all present.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = (
    "scores",
    "crud",
    "webhooks",
    "write_path",
    "audit",
    "ingest",
    "memory",
    "due",
    "replica",
)
TIMEOUT_S = 45 * 60  # per module: a hung benchmark must not hang `make bench`


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"modules to run, of {', '.join(MODULES)} (default: all present)",
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to each module")
    args = parser.parse_args(argv)

    present = [name for name in MODULES if (HERE / f"{name}.py").is_file()]
    unknown = [name for name in args.names if name not in present]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (present: {', '.join(present)})")
    selected = args.names or present
    outcomes: dict[str, str] = {}
    for name in selected:
        command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
        print(f"\n#### bench.{name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.run(command, cwd=HERE.parent, timeout=TIMEOUT_S).returncode
            outcome = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            outcome = f"timed out after {TIMEOUT_S} s"
        outcomes[name] = f"{outcome}, {time.monotonic() - started:.0f} s"

    print("\n#### summary")
    for name, outcome in outcomes.items():
        print(f"  bench.{name}: {outcome}")
    return 0 if all(o.startswith("ok") for o in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
