"""The one table: machine header, one row per figure next to its baseline, and notes.

Ratios are always ``resplay ÷ baseline``; the row label says which direction is better.
The README keeps the latest table between two HTML comment markers.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["README_BEGIN", "README_END", "Report", "Row", "machine", "update_readme"]

README_BEGIN = "<!-- bench:begin (written by `make bench`) -->"
README_END = "<!-- bench:end -->"

_LIBRARIES = ("resplay", "aiohttp", "orjson", "uvloop", "openai", "websockets", "vcrpy", "pytest-recording")


@dataclass
class Row:
    """One figure and its baselines, already formatted."""

    section: int
    label: str
    resplay: str
    baseline: str = ""
    ratio: str = ""
    aimock: str = ""
    aimock_ratio: str = ""


@dataclass
class Report:
    """Everything one ``make bench`` run prints."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra_versions: dict[str, str] = field(default_factory=dict)
    generator: str = ""

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def markdown(self) -> str:
        """Machine line, the table and the notes, as Markdown."""
        header = [
            f"Machine: {machine()}",
            f"Libraries: {_versions(self.extra_versions)}",
        ]
        if self.generator:
            header.append(f"Load generator: {self.generator}")
        lines = [*(h + "  " for h in header[:-1]), header[-1], ""]
        lines.append("| # | figure | resplay | baseline | resplay ÷ baseline | aimock | resplay ÷ aimock |")
        lines.append("|---|---|--:|--:|--:|--:|--:|")
        for r in self.rows:
            cells = (r.section, r.label, r.resplay, r.baseline, r.ratio, r.aimock, r.aimock_ratio)
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        if self.notes:
            lines.append("")
            lines.extend(f"- {n}" for n in self.notes)
        return "\n".join(lines) + "\n"


def machine() -> str:
    """Cores, CPU model, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]} ({platform.python_implementation()})"
    )


def _versions(extra: dict[str, str]) -> str:
    found = []
    for name in _LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    found.extend(f"{k} {v}" for k, v in extra.items())
    return ", ".join(found)


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the bench markers in ``readme``; ``False`` when the markers are absent."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _: f"{README_BEGIN}\n{table}{README_END}", text, count=1))
    return True


def fmt_rate(value: float) -> str:
    """Requests per second with thousands separators."""
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    """Milliseconds with 2 significant decimals below 10 ms."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def ratio(a: float, b: float) -> str:
    """``a ÷ b`` as ``0.62×`` (blank when undefined)."""
    return f"{a / b:.2f}×" if a and b else ""
