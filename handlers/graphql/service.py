"""/v1/graphql below HTTP: one request or a batch (Hasura's JSON array) in, answers out.

Every answer is a GraphQL response ({"data"} or {"errors"}); a batch answers a list, one per
request, each run on its own. Subscriptions are served over the websocket only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from handlers.context import Runtime, Session
from handlers.graphql.document import Documents, Limits
from handlers.graphql.errors import RequestError, error, from_switchboard
from handlers.graphql.execute import GraphQLRequest, Operation, Result, execute, operation
from handlers.graphql.schema import Schemas
from handlers.graphql.subscriptions import RunWatch
from metadata.decoding import decode
from metadata.errors import SwitchboardError

log = logging.getLogger("switchboard.graphql")
_body = msgspec.json.Decoder(GraphQLRequest | list[GraphQLRequest])
NOT_OVER_HTTP = "subscriptions are not supported over HTTP, use websockets instead"


class GraphQL:
    def __init__(self, runtime: Runtime, limits: Limits | None = None) -> None:
        self.runtime = runtime
        self.schemas = Schemas(runtime)
        self.documents = Documents(limits or Limits())
        self.watch = RunWatch()
        runtime.run_finished = self.watch.finished

    async def http(self, session: Session, body: bytes) -> tuple[Any, list[str]]:
        """The answer to a POST body, and the Set-Cookie values of the handlers that ran."""
        try:
            requests = decode(_body, body)
        except SwitchboardError as exc:
            return {"errors": [from_switchboard(exc, session.is_admin)]}, []
        if isinstance(requests, GraphQLRequest):
            result = await self.answer(session, requests)
            return result.body, result.cookies
        results = [await self.answer(session, request) for request in requests]
        return [r.body for r in results], [cookie for r in results for cookie in r.cookies]

    async def answer(self, session: Session, request: GraphQLRequest) -> Result:
        try:
            op = await self.operation(session, request)
            if op.kind == "subscription":
                raise RequestError.of(NOT_OVER_HTTP)
            return await execute(op)
        except RequestError as exc:
            return Result({"errors": exc.errors})
        except SwitchboardError as exc:  # the store cannot be reached, say
            return Result({"errors": [from_switchboard(exc, session.is_admin)]})
        except Exception:  # a bug: logged, and answered without internals
            log.exception("graphql request failed")
            return Result({"errors": [error("unexpected error", code="unexpected")]})

    async def operation(self, session: Session, request: GraphQLRequest) -> Operation:
        return await operation(self.runtime, self.schemas, self.documents, session, request)

    def subscribe(self, op: Operation) -> AsyncIterator[dict[str, Any]]:
        return self.watch.results(op)
