"""``resplay cassettes import PATH…``: third-party vcrpy cassettes into resplay's format.

What it understands (the layouts found in ../shared/real-traffic and in vcrpy's history):

* plain vcrpy v1, bodies as strings or gzip/deflate ``!!binary`` (decoded, header dropped);
* pydantic-ai's ``parsed_body`` (JSON stored pre-parsed instead of ``body``);
* vcrpy < 4.1's httpx layout (``status_code`` / ``content``);
* crewAI's placeholders (header values such as ``AUTHORIZATION-XXX``, ``X-REQUEST-ID-XXX``): they say
  nothing about the traffic, so the headers are dropped (secret ones become ``REDACTED``);
* ``!!python/...`` tags of old cassettes (multidict headers) degrade to plain data.

Every imported file is redacted like a recording and written atomically. WebSocket (Realtime)
cassettes are reported and skipped: they are not HTTP.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cassette import dump_yaml, load_yaml, to_disk
from .errors import CassetteFormatError
from .migrations import native_from_v0, version_of
from .persister import atomic_write
from .redaction import REDACTED, Redactor

__all__ = ["ImportReport", "import_cassette", "main"]

_PLACEHOLDER = re.compile(r"^[A-Z0-9][A-Z0-9-]*-XXX$")


@dataclass
class ImportReport:
    """What importing one file did."""

    source: Path
    destination: Path | None = None
    interactions: int = 0
    bodies: dict[str, int] = field(default_factory=dict)
    """Counts of stored body kinds: ``json``, ``sse``, ``string``, ``binary``, ``empty``."""
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file was imported."""
        return self.error is None

    def summary(self) -> str:
        """One line for the command's output."""
        if self.error is not None:
            return f"skip  {self.source}: {self.error}"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.bodies.items()))
        notes = f"  [{'; '.join(self.notes)}]" if self.notes else ""
        return f"ok    {self.source} -> {self.destination}: {self.interactions} interactions ({kinds}){notes}"


def _drop_placeholders(
    headers: dict[str, list[str]], redactor: Redactor, notes: set[str]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, values in headers.items():
        if values and all(_PLACEHOLDER.match(v) for v in values):
            notes.add("crewAI placeholder headers dropped")
            if name.lower() in redactor.headers:
                out[name] = [REDACTED]
            continue
        out[name] = values
    return out


def _is_websocket(document: Mapping[str, Any]) -> bool:
    interactions = document.get("interactions") or []
    return bool(interactions) and isinstance(interactions[0], Mapping) and "direction" in interactions[0]


def _body_kind(body: Any) -> str:
    if not body:
        return "empty"
    if "sse" in body:
        return "sse"
    if "json" in body:
        return "json"
    value = body.get("string")
    if value in (None, ""):
        return "empty"
    return "binary" if isinstance(value, bytes) else "string"


def convert(document: Mapping[str, Any], redactor: Redactor) -> tuple[dict[str, Any], list[str]]:
    """A third-party cassette document as a resplay disk document, plus notes on what changed."""
    notes: set[str] = set()
    if _is_websocket(document):
        raise CassetteFormatError("a WebSocket (Realtime) cassette, not HTTP interactions")
    if version_of(document) >= 1:
        from .cassette import from_disk
        from .migrations import migrate

        native = from_disk(migrate(document))
    else:
        native = native_from_v0(document)
        if any("parsed_body" in i.get("request", {}) or "parsed_body" in i.get("response", {})
               for i in document.get("interactions") or []):  # fmt: skip
            notes.add("pydantic-ai parsed_body")
        if any("status_code" in i.get("response", {}) for i in document.get("interactions") or []):
            notes.add("legacy httpx layout")
    for interaction in native["interactions"]:
        for part in ("request", "response"):
            interaction[part]["headers"] = _drop_placeholders(interaction[part]["headers"], redactor, notes)
        coding = {k.lower(): v for k, v in interaction["response"]["headers"].items()}.get("content-encoding")
        if coding:
            notes.add(f"{coding[0]} body decoded")
    return to_disk(native, redactor), sorted(notes)


def import_cassette(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
) -> ImportReport:
    """Convert one cassette file; errors are reported, not raised."""
    report = ImportReport(Path(source))
    try:
        text = Path(source).read_text(encoding="utf-8")
        document = load_yaml(text, source=str(source))
        redactor = Redactor.build(os.environ if environ is None else environ)
        converted, report.notes = convert(document, redactor)
    except (OSError, UnicodeDecodeError, CassetteFormatError, KeyError, TypeError, ValueError) as exc:
        report.error = str(exc) or type(exc).__name__
        return report
    report.interactions = len(converted["interactions"])
    for interaction in converted["interactions"]:
        for part in ("request", "response"):
            kind = _body_kind(interaction[part]["body"])
            report.bodies[kind] = report.bodies.get(kind, 0) + 1
    atomic_write(destination, dump_yaml(converted))
    report.destination = Path(destination)
    return report


def _sources(paths: Sequence[str]) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to the argument it came from) for files and folders of YAML files."""
    for argument in paths:
        root = Path(argument)
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.suffix in (".yaml", ".yml") and path.is_file():
                    yield path, path.relative_to(root)
        else:
            yield root, Path(root.name)


def main(argv: Sequence[str] | None = None) -> int:
    """``resplay cassettes import PATH… [-o DIR | --in-place]``; exit status 1 if any file failed."""
    parser = build_parser(argparse.ArgumentParser(prog="resplay cassettes import"))
    return run(parser.parse_args(argv))


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the import command's arguments to ``parser``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="cassette files or folders of them")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-o",
        "--output",
        default="cassettes/imported",
        help="folder for the converted files (default: %(default)s)",
    )
    where.add_argument("--in-place", action="store_true", help="overwrite each file with its conversion")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the import command with parsed arguments."""
    failed = 0
    for source, relative in _sources(args.paths):
        destination = source if args.in_place else Path(args.output) / relative
        report = import_cassette(source, destination)
        failed += not report.ok
        print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 1 if failed else 0
