"""POST /v1/graphql: Hasura's GraphQL endpoint (one request, or a JSON array of them).

Authentication is /v1/query's (admin secret, role header, JWT, unauthorized role). Every answer
is 200 with a GraphQL body, errors included, as Hasura answers; Set-Cookie headers of the
synchronous handlers that ran reach the caller. The websocket on the same path is
rpc/graphql_ws.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from handlers.graphql.errors import from_switchboard
from handlers.graphql.service import GraphQL
from metadata.errors import SwitchboardError
from rpc.auth import authenticate
from rpc.config import Config
from rpc.responses import json_response


def graphql_endpoint(graphql: GraphQL, config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            session = authenticate(request.headers, config)
        except SwitchboardError as exc:
            return json_response({"errors": [from_switchboard(exc, admin=False)]})
        body, cookies = await graphql.http(session, await request.body())
        response = json_response(body)
        for cookie in cookies:
            response.headers.append("set-cookie", cookie)
        return response

    return endpoint
