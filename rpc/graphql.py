"""POST /v1/graphql: Hasura's GraphQL endpoint (one request, or a JSON array of them).

Authentication is /v1/query's (admin secret, API key, role header, JWT, unauthorized role), and
so are the body's limits (413; 408 from the connection). Every answer
is 200 with a GraphQL body, errors included, as Hasura answers; Set-Cookie headers of the
synchronous handlers that ran reach the caller. The websocket on the same path is
rpc/graphql_ws.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from handlers.graphql.errors import from_switchboard
from handlers.graphql.service import GraphQL
from handlers.telemetry import note_operation, note_role
from metadata.errors import SwitchboardError
from rpc.auth import Authenticator
from rpc.config import Config
from rpc.limits import PayloadTooLarge, read_body
from rpc.responses import json_response


def graphql_endpoint(graphql: GraphQL, auth: Authenticator, config: Config) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        note_operation("graphql")
        try:
            session = await auth.session(request.headers)
            note_role(session.role)
            body = await read_body(request, config.max_body_bytes)
        except SwitchboardError as exc:
            # Every GraphQL answer is a 200, but for a body refused before it was read (413).
            status = exc.status if isinstance(exc, PayloadTooLarge) else 200
            return json_response({"errors": [from_switchboard(exc, admin=False)]}, status)
        except ClientDisconnect:
            return Response(status_code=400)  # the caller hung up mid-body: nothing ran
        answer, cookies = await graphql.http(session, body)
        response = json_response(answer)
        for cookie in cookies:
            response.headers.append("set-cookie", cookie)
        return response

    return endpoint
