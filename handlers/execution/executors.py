"""The four ways an action runs, by the kind of its definition: webhook, sql, table, http.

Each executor runs a call (`run`), shows what a run would do without doing it (`preview`, for
`dry_run`), and may widen the action's signature before its input is checked (`signature`:
table actions derive their arguments from the table's columns; the others run as declared, with
no extra await on the run path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.context import Call, Runtime
from handlers.execution.http_action import preview_http, run_http
from handlers.execution.sql_action import preview_sql, run_sql
from handlers.execution.table_action import preview_table, run_table
from handlers.execution.table_action import signature as table_signature
from handlers.execution.webhook import preview_webhook, run_webhook
from metadata.actions import Action
from metadata.objects import View


@dataclass(frozen=True)
class Executor:
    run: Callable[[Runtime, Call, View], Awaitable[Any]]
    preview: Callable[[Runtime, Call, View], Awaitable[dict[str, Any]]]
    signature: Callable[[Runtime, Action, View], Awaitable[Action]] | None = None  # None: as declared


EXECUTORS: dict[str, Executor] = {
    "webhook": Executor(run_webhook, preview_webhook),
    "sql": Executor(run_sql, preview_sql),
    "table": Executor(run_table, preview_table, table_signature),
    "http": Executor(run_http, preview_http),
}


def executor(action: Action) -> Executor:
    return EXECUTORS[action.definition.handler_kind]
