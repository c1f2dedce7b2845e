"""Imported audiences: a segment whose members come from a list of identities, not a rule.

The identities (a file read by segments/import_files.py, or rows sent through GraphQL) are
normalised by the identity rules and resolved to profiles; unknown ones are counted. The
audience is a segment of kind `imported` with no rule, its members stored as every segment's
are, `(:Profile)-[:IN_SEGMENT]->(:Segment)`, and changed as an evaluation changes them
(segments/transitions.py): a first import realizes its members; an import again into the same
audience replaces the list, so members still listed become existing, new ones realized and
those no longer listed exit. `inSegment("<id>")` reads those stored members (never a rule).

Everything is read and resolved before anything is written: a file whose rows are all bad
changes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from idgraph.clock import now_ms
from idgraph.errors import InvalidInput
from idgraph.identity.normalise import IdentityKey, IdentityRejected
from idgraph.segments.evaluation import Evaluation, Evaluator
from idgraph.segments.import_files import BadRow, Row
from idgraph.segments.objects import SavedSegment

RESOLVE_BATCH = 5_000
MAX_REPORTED = 1_000  # bad rows kept with their line and reason; the rest only counted
Normalise = Callable[[str, str], IdentityKey]
Progress = Callable[[int], None]  # the line of the file (or position in a list) reached
Written = Callable[[int, int], None]  # memberships written so far, of how many


@dataclass
class AudienceImport:
    """What an import read, resolved and changed."""

    rows: int = 0  # identities read, good and bad
    rejected: list[BadRow] = field(default_factory=list)  # the first MAX_REPORTED
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    matched: int = 0  # identities found in the graph (each listed once)
    unknown: int = 0  # valid identities the graph does not have
    test_profiles: int = 0  # profiles left out as test data (unless the audience asks)
    profiles: set[str] = field(default_factory=set)
    segment: SavedSegment | None = None
    evaluation: Evaluation | None = None
    resolved: set[str] = field(default_factory=set, repr=False)  # identity keys looked up

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected_by_code.values())

    def reject(self, bad: BadRow) -> None:
        self.rejected_by_code[bad.code] += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append(bad)


@dataclass
class AudienceImporter:
    """Resolves identities and stores them as an imported audience's members."""

    evaluator: Evaluator
    normalise: Normalise

    async def import_rows(self, name: str, rows: Iterable[Row | BadRow], *,
                          description: str | None = None, include_test: bool = False,
                          progress: Progress | None = None,
                          written: Written | None = None) -> AudienceImport:
        """Import `rows` as the audience named `name` (created, or replaced when it is an
        imported audience already)."""
        report = AudienceImport()
        found = await self._resolve_all(rows, report, include_test, progress)
        if report.rows == 0 or report.rows == report.rejected_count:
            raise InvalidInput(_nothing_read(report))
        segment = await self.evaluator.service.ensure_imported(name, description, include_test)
        report.segment = segment
        report.evaluation = await self.evaluator.store(segment, found, now_ms(),
                                                       uuid.uuid4().hex, written)
        report.segment = await self.evaluator.service.get(segment.id)
        return report

    async def _resolve_all(self, rows: Iterable[Row | BadRow], report: AudienceImport,
                           include_test: bool, progress: Progress | None) -> set[str]:
        pending: dict[str, int] = {}  # identity key -> its first line
        line = 0
        for row in rows:
            report.rows, line = report.rows + 1, row.line
            self._take(row, report, pending)
            if len(pending) >= RESOLVE_BATCH:
                await self._resolve(pending, report, include_test)
                pending = {}
                if progress is not None:
                    progress(line)
        await self._resolve(pending, report, include_test)
        if progress is not None:
            progress(line)
        return report.profiles

    def _take(self, row: Row | BadRow, report: AudienceImport, pending: dict[str, int]) -> None:
        if isinstance(row, BadRow):
            report.reject(row)
            return
        try:
            key = self.normalise(row.namespace, row.value).key
        except IdentityRejected as exc:
            report.reject(BadRow(row.line, exc.code, str(exc)))
            return
        pending.setdefault(key, row.line)

    async def _resolve(self, pending: dict[str, int], report: AudienceImport,
                       include_test: bool) -> None:
        if not pending:
            return
        # A file may list an identity several times: each is looked up and counted once.
        keys = [k for k in pending if k not in report.resolved]
        found = await self.evaluator.repository.resolve_keys(keys)
        report.resolved.update(keys)
        for key in keys:
            hit = found.get(key)
            if hit is None:
                report.unknown += 1
                continue
            profile, is_test = hit
            report.matched += 1
            if is_test and not include_test:
                report.test_profiles += 1
            else:
                report.profiles.add(profile)


def _nothing_read(report: AudienceImport) -> str:
    if report.rows == 0:
        return "The file lists no identity: nothing was imported."
    first = report.rejected[0]
    return (f"No row of the file could be read ({report.rows} bad rows; line {first.line}: "
            f"{first.reason}): nothing was imported.")


def summary_lines(report: AudienceImport) -> Sequence[str]:
    """The import in a few lines, for a terminal."""
    counts = report.evaluation.counts if report.evaluation else {}
    lines = [f"rows {report.rows}, rejected {report.rejected_count}, matched {report.matched}, "
             f"unknown {report.unknown}, test profiles left out {report.test_profiles}",
             f"members {len(report.profiles)}: realized {counts.get('realized', 0)}, "
             f"existing {counts.get('existing', 0)}, exited now {counts.get('exitedNow', 0)}"]
    lines += [f"  {code}: {n}" for code, n in sorted(report.rejected_by_code.items())]
    return lines
