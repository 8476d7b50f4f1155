"""A line per test file as its last test finishes, instead of pytest's dots.

Under pytest-xdist the dots come from every worker at once and say nothing of which files are
done; this prints `tests/test_cli.py  35 passed  (0:21)  [7/27 files]` when a file's last test
finishes, whichever worker ran it. Failures are still listed in full at the end. Registered by
tests/conftest.py on the process that reports (never on a worker).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest

# Worst first: a test's outcome is the worst of its setup, call and teardown reports.
_OUTCOMES = ("error", "failed", "xpassed", "skipped", "xfailed", "passed")


def _outcome(report: pytest.TestReport) -> str:
    """The report's outcome as pytest's summary names it (an xfail is no plain skip)."""
    if report.failed and report.when != "call":
        return "error"
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else "xfailed"
    return report.outcome


class FileProgress:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.remaining: Counter[str] = Counter()
        self.files = 0
        self.done = 0
        self.outcome: dict[str, str] = {}  # nodeid -> its worst outcome so far
        self.counts: dict[str, Counter[str]] = {}  # file -> outcome -> tests

    def _expect(self, nodeids: Iterable[str]) -> None:
        if self.files:  # every xdist worker collects the same tests: the first list is enough
            return
        self.remaining.update(nodeid.split("::", 1)[0] for nodeid in nodeids)
        self.files = len(self.remaining)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._expect(ids)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._expect(item.nodeid for item in session.items)  # no items here under xdist

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        # The file lines replace the dots (and F, s, E letters) at the default verbosity.
        if self.config.get_verbosity() > 0:
            return None
        category = _outcome(report)
        if report.when == "call" or report.outcome != "passed":
            return category, "", category.upper()
        return "", "", ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome != "passed" or hasattr(report, "wasxfail"):
            outcome = _outcome(report)
            previous = self.outcome.get(report.nodeid, "passed")
            self.outcome[report.nodeid] = min(outcome, previous, key=_OUTCOMES.index)
        if report.when != "teardown":
            return
        file = report.nodeid.split("::", 1)[0]
        self.counts.setdefault(file, Counter())[self.outcome.pop(report.nodeid, "passed")] += 1
        self.remaining[file] -= 1
        if self.remaining[file] == 0:
            self.done += 1
            self._report(file)

    def _report(self, file: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        counts = self.counts.pop(file)
        summary = ", ".join(f"{counts[o]} {o}" for o in reversed(_OUTCOMES) if counts[o])
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        bad = counts["failed"] or counts["error"]
        reporter.ensure_newline()
        reporter.write(f"{file:<34} ")
        reporter.write(summary, red=bool(bad), green=not bad)
        reporter.write_line(f"  ({minutes}:{seconds:02})  [{self.done}/{self.files} files]")
