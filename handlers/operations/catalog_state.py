"""get_catalog_state, set_catalog_state: Hasura's catalog state, where its CLI and console keep
their own state on the server.

get_catalog_state {}: `{"id": "<uuid>", "cli_state": {...}, "console_state": {...}}`, as Hasura
answers it: `id` names the store (a UUID made once and kept; Hasura's CLI reports it as the
server's), a state never written is `{}`.
set_catalog_state {type: "cli" | "console", state: <any JSON>}: replaces that state whole;
answers `{"message": "success"}`.
The state lives in the store's database beside the metadata, as Hasura keeps it beside its own
(not in the metadata): it makes no version, is never exported, and replace_metadata,
clear_metadata and rollback_metadata leave it as it is. Every server on the store sees it.
Admin only. Errors: parse-failed (a missing `type` or `state`, a type other than cli/console,
an unknown field). Neither runs inside a bulk (parse-failed at `$.args[i].type`): the state is
outside the metadata, which a refused bulk could not undo, and the first read writes the id.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from handlers.context import Context
from metadata.catalog_state import EMPTY, CatalogState
from metadata.decoding import decode
from metadata.strict import Strict

_any = msgspec.json.Decoder()


class GetCatalogState(Strict):
    pass


class SetCatalogState(Strict):
    type: Literal["cli", "console"]
    state: msgspec.Raw


async def get_catalog_state(ctx: Context, args: GetCatalogState) -> dict[str, Any]:
    store_id, states = await CatalogState(ctx.store).read()
    return {
        "id": store_id,
        "cli_state": msgspec.Raw(states.get("cli", EMPTY)),
        "console_state": msgspec.Raw(states.get("console", EMPTY)),
    }


async def set_catalog_state(ctx: Context, args: SetCatalogState) -> dict[str, Any]:
    decode(_any, args.state)  # JSON already (the envelope was decoded); too deep is refused here
    await CatalogState(ctx.store).write(args.type, bytes(args.state))
    return {"message": "success"}
