"""export_metadata, replace_metadata, clear_metadata: the whole document at once.

export_metadata {at_version?}: envelope version 1 answers the Hasura v3 document (actions sorted
by name, defaults omitted as Hasura omits them); version 2 answers {resource_version, metadata}.
`at_version` answers the document as it was then (not-exists for an unknown version).
`sections` (["custom_types", "data_sources", ...]) keeps only those top-level keys (and
`version`), so a reader of types, sources or links need not receive 10,000 actions. A password
written in a data source URL is shown as *** unless `reveal_secrets: true` (a backup); a document
re-applied with *** keeps the stored password of the same URL.

replace_metadata: the args are a Hasura v1/v2/v3 document, or (Hasura's v2 form, chosen by the
presence of a `metadata` key) {metadata, allow_inconsistent_metadata?, allow_warnings?, dry_run?},
answered with {is_consistent, inconsistent_objects, resource_version}; `dry_run` adds `changes`
(added/removed/changed objects, against the stored version) and `graphql` (the breaking and
dangerous changes to each role's schema, as diff_metadata) and changes nothing. Sections Switchboard does not serve are
kept, exported back unchanged, and listed as inconsistent objects (they never block the replace).
As in Hasura, transform templates are not parsed here: an action whose templates do not parse is
applied, listed as inconsistent (naming the template, line and column) and refuses to run. A
header reading a reserved variable (HASURA_GRAPHQL_*, SWITCHBOARD_*) is Hasura's parse-failed at
the header, unless inconsistency is allowed: then that action is kept and listed the same way.
Errors: parse-failed / validation-failed with the path inside the document; 400 unexpected
"cannot continue due to inconsistent metadata" when an action's types do not resolve and
inconsistency was not allowed.

clear_metadata {}: removes everything.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Changed, Context
from handlers.graphql.changes import graphql_changes
from handlers.operations.versions import state_at
from metadata.consistency import inconsistent_actions, inconsistent_objects, refuse
from metadata.data_sources import unmasked
from metadata.decoding import decode
from metadata.diff import describe
from metadata.document import build_document, parse_document
from metadata.errors import rooted
from metadata.objects import make_item
from metadata.roles import refuse_cycles
from metadata.strict import StoredInt, Strict


class ExportMetadata(Strict):
    at_version: StoredInt | None = None
    sections: list[str] | None = None
    reveal_secrets: bool = False


class ReplaceMetadataV2(Strict):
    metadata: msgspec.Raw
    allow_inconsistent_metadata: bool = False
    allow_warnings: bool = True
    dry_run: bool = False


class ClearMetadata(Strict):
    pass


_probe = msgspec.json.Decoder(dict[str, msgspec.Raw])
_v2 = msgspec.json.Decoder(ReplaceMetadataV2)


async def export_metadata(ctx: Context, args: ExportMetadata) -> dict[str, Any]:
    if args.at_version is None:
        view, version = ctx.store.state, ctx.store.resource_version
    else:
        view, version = await state_at(ctx, args.at_version, "$.at_version"), args.at_version
    document = build_document(view, args.reveal_secrets)
    if args.sections is not None:
        document = {key: value for key, value in document.items() if key == "version" or key in args.sections}
    return {"resource_version": version, "metadata": document} if ctx.version == 2 else document


async def replace_metadata(ctx: Context, args: msgspec.Raw) -> Changed | None:
    options: ReplaceMetadataV2 | None = None
    if "metadata" in decode(_probe, args):
        options = decode(_v2, args)
        with rooted("$.metadata"):
            items = parse_document(options.metadata, keep_reserved=options.allow_inconsistent_metadata)
    else:
        items = parse_document(args)
    for key, item in items.items():  # a password masked in an export keeps the stored one
        if key[0] == "source":
            source = unmasked(item.value, ctx.changing.get(*key), "$.data_sources")
            if source is not item.value:
                items[key] = make_item("source", source)
    # A dry run works on a copy, so it changes nothing, inside a bulk too.
    draft = ctx.changing.copy() if options and options.dry_run else ctx.changing
    draft.replace(items)
    refuse_cycles(draft)  # as Hasura: whatever inconsistency is allowed

    broken = inconsistent_actions(draft, blocking_only=True)
    if broken and not (options and options.allow_inconsistent_metadata):
        raise refuse(broken, "cannot continue due to inconsistent metadata")
    draft.allow_inconsistent = True  # checked above, for the whole document
    if options is None:
        return None
    objects = inconsistent_objects(draft)
    body: dict[str, Any] = {"is_consistent": not objects, "inconsistent_objects": objects}
    if options.dry_run:
        body["changes"] = changes = describe(draft.base, draft.effective())
        body["graphql"] = await graphql_changes(ctx.runtime, draft.base, draft, changes)
    return Changed(body)


async def clear_metadata(ctx: Context, args: ClearMetadata) -> None:
    ctx.changing.replace({})
