"""How fast the `switchboard` CLI starts, against the CLI of an earlier revision in the same run.

Runs each command as a fresh process, alternating between this checkout's CLI and the baseline's
(`git archive REV` of rpc/, handlers/ and metadata/, put first on sys.path; default: main), and
`python -c pass` as the floor (the interpreter's own start). Prints the median wall time of each
and the ratio, and the import time of `rpc.cli` (python -X importtime, median). `metadata history`
and `metadata apply` go to a real `switchboard serve` on a temporary SQLite store.

    python bench/cli_start.py [--against main] [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import ServerProcess  # noqa: E402 - after the path

RUN = "import sys; sys.path.insert(0, {root!r}); sys.argv[0] = 'switchboard'; from rpc.cli import main; main()"


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "rpc", "handlers", "metadata"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, (argv, done.stderr.decode())
    return elapsed


def import_ms(root: Path, args: list[str], env: dict[str, str]) -> float:
    """Every import of the command (python -X importtime, top-level entries summed), in ms."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN.format(root=str(root)), *args], capture_output=True, env=env
    )
    top = [line.split("|") for line in done.stderr.decode().splitlines() if line.startswith("import time:")]
    return sum(int(cumulative) for _, cumulative, name in top[1:] if not name.startswith("  ")) / 1000


def check_runs_from(root: Path) -> None:
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(root)!r}); import rpc.cli; print(rpc.cli.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where) == root / "rpc" / "cli.py", (where, root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="main", help="the baseline's git revision")
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        baseline = extract(options.against, scratch / "baseline")
        check_runs_from(ROOT)
        check_runs_from(baseline)
        (scratch / "m.json").write_text(json.dumps({"version": 3, "actions": []}))
        server = ServerProcess(scratch, database_url=f"sqlite:///{scratch}/store.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env["SWITCHBOARD_ENDPOINT"] = server.url
        commands = {
            "--help": ["--help"],
            "metadata history": ["metadata", "history"],
            "metadata apply m.json": ["metadata", "apply", str(scratch / "m.json")],
        }
        try:
            print(f"baseline: {options.against}; {options.runs} runs each, median; load {os.getloadavg()[0]:.1f}")
            floor = statistics.median(timed([sys.executable, "-c", "pass"], env) for _ in range(options.runs))
            print(f"python -c pass (the floor): {floor * 1000:.0f} ms")
            for name, args in commands.items():
                times: dict[str, list[float]] = {"now": [], "baseline": []}
                for _ in range(options.runs):  # alternating, so both see the same load
                    for label, root in (("now", ROOT), ("baseline", baseline)):
                        times[label].append(timed([sys.executable, "-c", RUN.format(root=str(root)), *args], env))
                now, then = statistics.median(times["now"]), statistics.median(times["baseline"])
                imports = {
                    label: statistics.median(import_ms(root, args, env) for _ in range(5))
                    for label, root in (("now", ROOT), ("baseline", baseline))
                }
                print(
                    f"switchboard {name}: {now * 1000:.0f} ms vs baseline {then * 1000:.0f} ms "
                    f"(x{then / now:.1f} faster); imports {imports['now']:.0f} ms vs {imports['baseline']:.0f} ms"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
