"""GraphQL surface of imported audiences: `importAudience` turns a list of identities into a
segment of kind IMPORTED (segments/audiences.py); read it as any segment (`segment(id)`,
`members`, `inSegment("<id>")` in rules). Large files: `idgraph audience import FILE`."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from idgraph.api.graphql.common import IdentityInput
from idgraph.api.graphql.context import Context
from idgraph.api.graphql.permissions import Role, allow
from idgraph.api.graphql.segments import Segment
from idgraph.errors import InvalidInput
from idgraph.segments.audiences import AudienceImport
from idgraph.segments.import_files import BadRow, Row

ANALYSTS = [allow(Role.ANALYST)]


@strawberry.input(description="An external audience: its name and its identities. Importing "
                              "again under the same name replaces the list: members no longer "
                              "listed exit.")
class AudienceImportInput:
    name: str
    identities: list[IdentityInput] = strawberry.field(
        description="Normalised as ingest normalises them; unknown ones are counted.")
    description: str | None = None
    include_test_profiles: bool = False


@strawberry.type(description="An identity of the list that could not be used.")
class AudienceImportProblem:
    index: int = strawberry.field(description="Its position in `identities` (from 0).")
    code: str
    message: str


@strawberry.type(description="What an import read and changed.")
class AudienceImportResult:
    segment: Segment = strawberry.field(description="The imported audience (kind IMPORTED); "
                                                    "lastEvaluation has the membership counts.")
    identities: int = strawberry.field(description="Identities given.")
    rejected: int = strawberry.field(description="Identities refused (see problems).")
    matched: int = strawberry.field(description="Identities found in the graph.")
    unknown: int = strawberry.field(description="Valid identities the graph does not have.")
    test_profiles: int = strawberry.field(description="Matched profiles left out as test data.")
    members: int = strawberry.field(description="Profiles in the audience now.")
    problems: list[AudienceImportProblem]

    @classmethod
    def of(cls, report: AudienceImport) -> AudienceImportResult:
        assert report.segment is not None
        return cls(segment=Segment.of(report.segment), identities=report.rows,
                   rejected=report.rejected_count, matched=report.matched,
                   unknown=report.unknown, test_profiles=report.test_profiles,
                   members=len(report.profiles),
                   problems=[AudienceImportProblem(index=p.line - 1, code=p.code,
                                                   message=p.reason) for p in report.rejected])


@strawberry.type
class AudienceMutation:
    @strawberry.mutation(permission_classes=ANALYSTS,
                         description="Import an external audience from a list of identities "
                                     "(a new one, or the same name again to replace its list).")
    async def import_audience(self, info: Info[Context, None],
                              input: AudienceImportInput) -> AudienceImportResult:
        services = info.context.services
        limit = services.settings.max_list_length
        if len(input.identities) > limit:
            raise InvalidInput(f"At most {limit} identities per call; import larger lists "
                               "with `idgraph audience import FILE`.")
        rows: list[Row | BadRow] = [Row(n, i.namespace, i.value)
                                    for n, i in enumerate(input.identities, start=1)]
        importer = services.segments.importer(services.identity.normalise)
        report = await importer.import_rows(input.name, rows, description=input.description,
                                            include_test=input.include_test_profiles)
        return AudienceImportResult.of(report)
