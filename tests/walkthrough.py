"""Runs a Markdown document's shell examples as a reader pastes them (tests/test_readme.py).

Every ```sh block runs, in order, in one bash session in an empty directory, unless the line before
it is an HTML comment `<!-- not run: why -->` (invisible on GitHub): the install and test commands,
Docker, anything needing what this machine lacks. Other languages (```json, ```yaml, ```text, ...)
never run.

* A line `switchboard serve [args]` starts a real server (tests/processes.py) with the session's
  environment and directory, as the reader's `export` lines and `cd` left them.
* `localhost:8080` / `127.0.0.1:8080` (the server) and `localhost:3000` / `127.0.0.1:3000` /
  `port=3000` / `PORT=3000` (the example webhook) become free ports, so runs never collide.
* Comment lines right after a command (no blank line between) are its expected output; other
  comments are prose. In the expected output `...` stands for anything, a timestamp or a uuid (or
  `0f5c6a1e-...`) for any timestamp or uuid, and two or more spaces for any run of spaces (table
  columns); a trailing `  (note)` is a note for the reader, and `(exit status N...)` is the exit
  status to expect. A JSON answer may be wrapped over several comment lines.
* Every command must exit 0 (unless its note says otherwise) and, when the document shows no
  answer, must not answer a Hasura error body (`{"error", "code", ...}`): an example that fails is
  a broken example even when nothing is shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ServerProcess, free_port

NOT_RUN = re.compile(r"^<!--\s*not run\b.*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")
HEREDOC = re.compile(r"(?<!<)<<(-?)\s*['\"]?(\w+)['\"]?")  # not a <<< here-string
SERVE = re.compile(r"^switchboard serve(\s.*)?$")
NOTE = re.compile(r"\s{2,}\(([^()]*)\)\s*$")
EXIT = re.compile(r"exit status (\d+)")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
WILDCARDS = re.compile(rf"({UUID}|[0-9a-f]{{4,}}-\.\.\.|{TIMESTAMP}|\.\.\.| {{2,}})")
STEP_TIMEOUT = 60.0


@dataclass
class Step:
    line: int  # of the document, 1-based
    command: str
    expected: list[str] | None = None
    status: int = 0


def blocks(markdown: str) -> list[tuple[int, str]]:
    """(first line, text) of each runnable block."""
    found, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if fence.group(1) == "sh" and not NOT_RUN.match(previous):
            found.append((i + 2, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return found


def complete(command: str) -> bool:
    """Whether bash would run `command` as it stands (quotes, heredocs and loops closed)."""
    if command.rstrip().endswith("\\"):
        return False
    lines = command.splitlines()
    for i, line in enumerate(lines):  # bash -n accepts a heredoc cut short, with a warning
        for dash, word in HEREDOC.findall(line):
            if not any((later.lstrip("\t") if dash else later) == word for later in lines[i + 1 :]):
                return False
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0


def steps(first_line: int, text: str) -> list[Step]:
    found: list[Step] = []
    pending: list[str] = []
    start = first_line
    after_command = False  # the previous line ended a command: comments now are its output
    for number, line in enumerate(text.splitlines(), first_line):
        if pending:
            pending.append(line)
        elif line.startswith("#"):
            if after_command:
                step = found[-1]
                step.expected = [*(step.expected or []), line[2:] if line.startswith("# ") else line[1:]]
            continue
        elif not line.strip():
            after_command = False
            continue
        else:
            pending, start = [line], number
        if complete("\n".join(pending)):
            found.append(Step(start, "\n".join(pending)))
            pending, after_command = [], True
    assert not pending, f"README line {start}: a command that never ends: {pending[0]!r}"
    for step in found:
        if step.expected:
            note = NOTE.search(step.expected[-1])
            if note:
                step.expected[-1] = step.expected[-1][: note.start()]
                status = EXIT.search(note.group(1))
                step.status = int(status.group(1)) if status else 0
    return found


def matches(expected: list[str], output: str) -> bool:
    text = "\n".join(expected).strip()
    if text.startswith(("{", "[")):  # a JSON answer, wrapped over several lines or indented
        text = re.sub(r",\s+\.\.\.", ",...", "".join(line.strip() for line in expected))
        output = "".join(line.strip() for line in output.splitlines())
    parts = []
    for piece in WILDCARDS.split(text):
        if piece == "...":
            parts.append(".*?")
        elif piece.endswith("-...") or re.fullmatch(UUID, piece):
            parts.append(UUID)
        elif re.fullmatch(TIMESTAMP, piece):
            parts.append(TIMESTAMP)
        elif piece and not piece.strip(" "):  # a run of spaces (a newline between wildcards is itself)
            parts.append(" +")
        else:
            parts.append(re.escape(piece))
    return re.fullmatch("".join(parts), output.strip(), re.DOTALL) is not None


class Stuck(AssertionError):
    """A command that did not finish: the session cannot go on."""


class Shell:
    """One bash session, as a reader's terminal: functions, variables and `cd` persist."""

    def __init__(self, cwd: Path, scratch: Path, env: dict[str, str]) -> None:
        self.scratch = scratch
        self.count = 0
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its background jobs (the webhook) go with it
        )

    def run(self, command: str) -> tuple[int, str]:
        self.count += 1
        script, output = self.scratch / f"step-{self.count}.sh", self.scratch / f"step-{self.count}.out"
        script.write_text(command + "\n")
        marker = f"--step-{self.count}-done--"
        assert self.process.stdin is not None and self.process.stdout is not None
        # Each step's output goes to a file of its own: a background job started by one step
        # keeps writing to that step's file, never into a later step's answer.
        self.process.stdin.write(f'. {script} > {output} 2>&1 < /dev/null; echo "{marker} $?"\n')
        self.process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise Stuck(
                    f"no answer within {STEP_TIMEOUT:.0f} s (a server or another command left in the foreground?)"
                )
            line = self.process.stdout.readline()
            if not line:
                raise Stuck("the shell exited")
            if line.startswith(marker):
                return int(line.split()[-1]), output.read_text(errors="replace")

    def environment(self) -> dict[str, str]:
        dump = self.scratch / "env"
        self.run(f"env -0 > {dump}")
        return dict(item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # its background jobs too (the webhook)
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(10)


def _listening(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _error_body(output: str) -> bool:
    try:
        answer = json.loads(output)
    except ValueError:
        return False
    return isinstance(answer, dict) and {"error", "code"} <= set(answer)


def walk(markdown: str | list[tuple[str, str]], directory: Path, keep_going: bool = False) -> tuple[int, list[str]]:
    """Run the examples of a document (or of several, `[(name, text)]`, one after another in the
    same session) in `directory`: (commands run, reports of those that failed: document and
    line, command, the answer shown and the answer given). Stops at the first failure unless
    `keep_going`."""
    documents = [("README", markdown)] if isinstance(markdown, str) else markdown
    port, webhook_port = free_port(), free_port()
    reader, scratch = directory / "reader", directory / "scratch"
    reader.mkdir(parents=True)
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    # The reader's virtualenv is active: its python3 and switchboard come first.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The CLI's default endpoint is the reader's server (http://127.0.0.1:8080), here another port.
    env["SWITCHBOARD_ENDPOINT"] = f"http://127.0.0.1:{port}"
    shell = Shell(reader, scratch, env)
    server: ServerProcess | None = None
    ran, failures = 0, []
    try:
        for name, document in documents:
            for first, block in blocks(_local(document, port, webhook_port)):
                for step in steps(first, block):
                    ran += 1
                    try:
                        server = _run(name, step, shell, server, scratch, port, webhook_port)
                    except AssertionError as exc:
                        failures.append(str(exc))
                        if not keep_going or isinstance(exc, Stuck):
                            return ran, failures
    finally:
        if server is not None:
            server.stop()
        shell.close()
    return ran, failures


def _local(text: str, port: int, webhook_port: int) -> str:
    """The document with the server's and the webhook's ports made this run's."""
    text = re.sub(r"\b(localhost|127\.0\.0\.1):8080\b", rf"\1:{port}", text)
    text = re.sub(r"\b(localhost|127\.0\.0\.1):3000\b", rf"\1:{webhook_port}", text)
    return re.sub(r"\b(port|PORT)=3000\b", rf"\1={webhook_port}", text)


def _run(
    name: str, step: Step, shell: Shell, server: ServerProcess | None, scratch: Path, port: int, webhook_port: int
) -> ServerProcess | None:
    """Run one step; answers the server (started by this step when it is `switchboard serve`)."""
    where = f"{name} line {step.line}: {step.command}"
    serve = SERVE.match(step.command.strip())
    if serve:
        assert server is None, f"{where}: a second server"
        cwd = Path(shell.run("pwd")[1].strip())
        args = (serve.group(1) or "").split()
        return ServerProcess(cwd, *args, log=scratch / "server.log", env=shell.environment(), port=port)
    try:
        status, output = shell.run(step.command)
    except Stuck as exc:
        raise Stuck(f"{where}\n{exc}") from None
    if step.command.rstrip().endswith("&"):
        assert _listening(webhook_port, 30), f"{where}: nothing listens on the webhook's port"
    report = (
        f"{where}\n--- the document shows (exit status {step.status}):\n"
        + "\n".join(step.expected or [])
        + f"\n--- it answered (exit status {status}):\n{output}"
    )
    assert status == step.status, report
    if step.expected:
        assert matches(step.expected, output), report
    else:
        assert not _error_body(output.strip()), report
    return server


if __name__ == "__main__":
    # python -m tests.walkthrough [FILE.md ...]: every example that does not answer as shown (the
    # files in one session, in order), to update the documents after a change (the test stops at
    # the first).
    import tempfile

    with tempfile.TemporaryDirectory() as scratch_dir:
        sources = [Path(arg) for arg in sys.argv[1:]] or [Path("README.md")]
        texts = [(str(source), source.read_text(encoding="utf-8")) for source in sources]
        count, failed = walk(texts, Path(scratch_dir), keep_going=True)
    print("\n\n".join(failed))
    print(f"{count} commands, {len(failed)} not as shown")
    sys.exit(1 if failed else 0)
