"""The ``--resplay-checklist`` terminal summary: each test's findings, gathered from teardown reports.

The ``resplay`` fixture audits its session (:mod:`mockserver.checklist`) before resetting it and attaches
the findings to the test's ``user_properties``, which xdist forwards with the reports; this plugin
collects them and prints one line per check (issue 13).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

__all__ = ["ChecklistSummary"]

SHOWN_TESTS = 5
"""Tests named per missed check in the summary."""


class ChecklistSummary:
    """Collects the findings of every test and writes the ``resplay checklist`` summary section."""

    def __init__(self) -> None:
        self.findings: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        """Check id -> (test node id, finding) for every test whose traffic the check applied to."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == "resplay_checklist" and isinstance(value, list):
                for finding in value:
                    self.findings[str(finding["id"])].append((report.nodeid, finding))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("resplay deployment checklist")
        if not self.findings:
            terminalreporter.write_line("no test traffic the checklist applies to")
            return
        for check, seen in sorted(self.findings.items(), key=lambda kv: _order(kv[1])):
            missed = [(node, f) for node, f in seen if f["status"] == "missed"]
            first = seen[0][1]
            verdict = f"MISSED in {len(missed)}/{len(seen)} tests" if missed else f"ok in {len(seen)} tests"
            terminalreporter.write_line(
                f"{verdict}: {check} [{first['checklist_item']}; {', '.join(first['impact'])}]"
            )
            for node, finding in missed[:SHOWN_TESTS]:
                evidence = ", ".join(finding["evidence"][:3])
                terminalreporter.write_line(f"    {node}: {finding['summary']} ({evidence})")
            if len(missed) > SHOWN_TESTS:
                terminalreporter.write_line(f"    ... and {len(missed) - SHOWN_TESTS} more tests")


def _order(seen: list[tuple[str, dict[str, Any]]]) -> tuple[int, str]:
    """Missed checks first."""
    missed = any(f["status"] == "missed" for _, f in seen)
    return (0 if missed else 1, seen[0][1]["id"])
