"""The operation registry: wire type name -> a frozen record describing its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from handlers.context import Context
from handlers.execution import run_action, run_control, signature
from handlers.operations import (
    actions,
    api_keys,
    bulk,
    bulk_keep_going,
    catalog_state,
    custom_types,
    data_sources,
    history,
    inconsistency,
    inherited_roles,
    listing,
    metadata_io,
    permissions,
    public_links,
    tables,
    users,
)
from handlers.operations import test_webhook_transform as transform_preview
from metadata.data_sources import DataSource
from metadata.roles import InheritedRole

Run = Callable[[Context, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    run: Run
    args: Any
    modifies: bool
    admin_only: bool = True
    # Reads catch up with other servers' writes first; the run path trusts the in-memory view,
    # which the store's change listener keeps current.
    fresh: bool = True
    # Whether it may be an envelope of a `bulk`: not when it acts outside the metadata (a run,
    # an API key), which a bulk refused by a later envelope could not undo.
    in_bulk: bool = True
    decoder: msgspec.json.Decoder[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", msgspec.json.Decoder(self.args))


OPERATIONS: dict[str, Operation] = {
    "create_action": Operation(actions.create_action, actions.CreateAction, modifies=True),
    "update_action": Operation(actions.update_action, actions.UpdateAction, modifies=True),
    "drop_action": Operation(actions.drop_action, actions.DropAction, modifies=True),
    "create_action_permission": Operation(
        permissions.create_action_permission, permissions.CreateActionPermission, modifies=True
    ),
    "drop_action_permission": Operation(
        permissions.drop_action_permission, permissions.DropActionPermission, modifies=True
    ),
    "add_inherited_role": Operation(inherited_roles.add_inherited_role, InheritedRole, modifies=True),
    "drop_inherited_role": Operation(
        inherited_roles.drop_inherited_role, inherited_roles.DropInheritedRole, modifies=True
    ),
    "set_custom_types": Operation(custom_types.set_custom_types, custom_types.CustomTypes, modifies=True),
    "export_metadata": Operation(metadata_io.export_metadata, metadata_io.ExportMetadata, modifies=False),
    "replace_metadata": Operation(metadata_io.replace_metadata, msgspec.Raw, modifies=True),
    "clear_metadata": Operation(metadata_io.clear_metadata, metadata_io.ClearMetadata, modifies=True),
    "reload_metadata": Operation(inconsistency.reload_metadata, inconsistency.ReloadMetadata, modifies=False),
    "get_inconsistent_metadata": Operation(
        inconsistency.get_inconsistent_metadata, inconsistency.GetInconsistentMetadata, modifies=False
    ),
    "drop_inconsistent_metadata": Operation(
        inconsistency.drop_inconsistent_metadata, inconsistency.DropInconsistentMetadata, modifies=True
    ),
    "get_metadata_history": Operation(history.get_metadata_history, history.GetMetadataHistory, modifies=False),
    "diff_metadata": Operation(history.diff_metadata, history.DiffMetadata, modifies=False),
    "rollback_metadata": Operation(history.rollback_metadata, history.RollbackMetadata, modifies=True),
    "bulk": Operation(bulk.bulk, list[msgspec.Raw], modifies=True),
    "bulk_atomic": Operation(bulk.bulk_atomic, list[msgspec.Raw], modifies=True),
    "bulk_keep_going": Operation(bulk_keep_going.bulk_keep_going, list[msgspec.Raw], modifies=True),
    "get_catalog_state": Operation(
        catalog_state.get_catalog_state, catalog_state.GetCatalogState, modifies=False, fresh=False, in_bulk=False
    ),
    "set_catalog_state": Operation(
        catalog_state.set_catalog_state, catalog_state.SetCatalogState, modifies=False, fresh=False, in_bulk=False
    ),
    "run_action": Operation(
        run_action.run_action, run_action.RunAction, modifies=False, admin_only=False, fresh=False, in_bulk=False
    ),
    "get_action_result": Operation(
        run_action.get_action_result, run_action.GetActionResult, modifies=False, admin_only=False, fresh=False
    ),
    "get_action_log": Operation(run_action.get_action_log, run_action.GetActionLog, modifies=False, fresh=False),
    # Replays run under today's metadata: caught up first. Cancels read no metadata.
    "replay_action_run": Operation(run_control.replay_action_run, run_control.RunId, modifies=False, in_bulk=False),
    "replay_action_runs": Operation(
        run_control.replay_action_runs, run_control.ReplayRuns, modifies=False, in_bulk=False
    ),
    "cancel_action_run": Operation(
        run_control.cancel_action_run, run_control.RunId, modifies=False, fresh=False, in_bulk=False
    ),
    "cancel_action_runs": Operation(
        run_control.cancel_action_runs, run_control.CancelRuns, modifies=False, fresh=False, in_bulk=False
    ),
    "add_source": Operation(data_sources.add_source, DataSource, modifies=True),
    "update_source": Operation(data_sources.update_source, DataSource, modifies=True),
    "drop_source": Operation(data_sources.drop_source, data_sources.DropSource, modifies=True),
    "create_action_public_link": Operation(
        public_links.create_action_public_link, public_links.ActionLink, modifies=True
    ),
    "drop_action_public_link": Operation(public_links.drop_action_public_link, public_links.ActionLink, modifies=True),
    "run_public_action": Operation(
        public_links.run_public_action,
        public_links.RunPublicAction,
        modifies=False,
        admin_only=False,
        fresh=False,
        in_bulk=False,
    ),
    "create_api_key": Operation(
        api_keys.create_api_key, api_keys.CreateApiKey, modifies=False, fresh=False, in_bulk=False
    ),
    "list_api_keys": Operation(api_keys.list_api_keys, api_keys.ListApiKeys, modifies=False, fresh=False),
    "revoke_api_key": Operation(
        api_keys.revoke_api_key, api_keys.RevokeApiKey, modifies=False, fresh=False, in_bulk=False
    ),
    "pg_track_table": Operation(tables.pg_track_table, tables.TrackTable, modifies=True),
    "track_table": Operation(tables.track_table, tables.TrackTableV1, modifies=True),
    "pg_untrack_table": Operation(tables.pg_untrack_table, tables.UntrackTable, modifies=True),
    "untrack_table": Operation(tables.untrack_table, tables.UntrackTable, modifies=True),
    "pg_create_select_permission": Operation(
        tables.pg_create_select_permission, tables.CreateSelectPermission, modifies=True
    ),
    "create_select_permission": Operation(
        tables.pg_create_select_permission, tables.CreateSelectPermission, modifies=True
    ),
    "pg_drop_select_permission": Operation(
        tables.pg_drop_select_permission, tables.DropSelectPermission, modifies=True
    ),
    "drop_select_permission": Operation(tables.pg_drop_select_permission, tables.DropSelectPermission, modifies=True),
    "create_user": Operation(users.create_user, users.CreateUser, modifies=False, fresh=False, in_bulk=False),
    "list_actions": Operation(listing.list_actions, listing.ListActions, modifies=False),
    "list_roles": Operation(listing.list_roles, listing.ListRoles, modifies=False),
    "get_action_signature": Operation(
        signature.get_action_signature, signature.GetActionSignature, modifies=False, admin_only=False, fresh=False
    ),
    "test_webhook_transform": Operation(
        transform_preview.test_webhook_transform, transform_preview.TestWebhookTransform, modifies=False, fresh=False
    ),
}
