"""The action handlers of Hasura's own action tests (server/tests-py/context.py's
ActionsWebhookHandler), on a real webhook server: the behaviours that need no Hasura database.

Where Hasura's handler inserts a user and answers its id, this one counts. Every answer carries
`Set-Cookie: abcd`, as Hasura's does. Scenario files reach it as `{{ACTION_WEBHOOK_HANDLER}}`.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.webhook import Received, Webhook

EMAIL = re.compile(r"^\w+([\.-]?\w+)*@\w+([\.-]?\w+)*(\.\w{2,3})+$")
INVALID_EMAIL = {"message": "Given email address is not valid", "code": "invalid-email"}


def _input(received: Received) -> Any:
    return received.body["input"]


def serve_hasura_actions(hook: Webhook) -> str:
    """Install the handlers on `hook`; returns its base URL."""
    ids = itertools.count(1)

    def create_user(received: Received) -> tuple[int, Any]:
        if not EMAIL.search(_input(received)["email"]):
            return 400, INVALID_EMAIL
        return 200, {"id": next(ids)}

    def create_users(received: Received) -> tuple[int, Any]:
        users = _input(received)["users"]
        for user in users:
            if not EMAIL.search(user["email"]):
                return 400, {"message": "Email address is not valid: " + user["email"], "code": "invalid-email"}
        return 200, [{"id": next(ids)} for _ in users]

    def create_user_nested(received: Received) -> tuple[int, Any]:
        status, body = create_user(received)
        return status, {"userObj": body} if status == 200 else body

    def get_user_by_email(received: Received) -> tuple[int, Any]:
        if not EMAIL.search(_input(received)["email"]):
            return 400, INVALID_EMAIL
        return 200, {"id": 1}

    def get_users_by_email(received: Received) -> tuple[int, Any]:
        status, body = get_user_by_email(received)
        return status, [body] if status == 200 else body

    def nested(received: Received) -> tuple[int, Any]:
        status, body = get_user_by_email(received)
        if status != 200:
            return status, body
        places = [{"city": "Bangalore", "country": "India"}, {"city": "Melbourne", "country": "Australia"}]
        return 200, {**body, "address": {"city": "New York", "country": "USA"}, "addresses": places, "user_id": body}

    def mirror_headers(received: Received) -> tuple[int, Any]:
        return 200, {"headers": [{"name": k, "value": v} for k, v in received.headers.items()]}

    recursive = {
        "direct": {"id": 1, "this": {"id": 2, "this": {"id": 3}}},
        "list": {"id": 1, "these": [{"id": 2, "these": [{"id": 3}]}, {"id": 4}]},
        "mutual": {"id": 1, "that": {"id": 2, "other": {"id": 3, "that": {"id": 4}}}},
    }
    answers: dict[str, Any] = {
        "/create-user": create_user,
        "/create-users": create_users,
        "/create-user-nested": create_user_nested,
        "/mirror-action": lambda r: (200, _input(r)["arg"]),
        "/mirror-headers": mirror_headers,
        "/get-user-by-email": get_user_by_email,
        "/get-users-by-email": get_users_by_email,
        "/get-user-by-email-nested": nested,
        "/intentional-error": lambda r: (400, _input(r)["blob"]),
        "/null-response": lambda r: (200, None),
        "/omitted-response-field": lambda r: (200, {"country": "India"}),
        "/scalar-response": lambda r: (200, "some-string"),
        "/json-response": lambda r: (200, {"foo": "bar"}),
        "/custom-scalar-array-response": lambda r: (200, [{"foo": "bar"}]),
        "/scalar-array-response": lambda r: (200, ["foo", "bar", None]),
        "/recursive-output": lambda r: (200, recursive),
        "/get-results": lambda r: (200, {"result_ids": [1, 2, 3, 4]}),
        "/typed-nested-null": lambda r: (200, {"id": 1, "child": None}),
        "/typed-nested-null-wrong-field": lambda r: (200, {"id": None, "child": None}),
    }
    for path, handler in answers.items():
        hook.respond(path, handler=handler, headers={"Set-Cookie": "abcd"})
    return hook.url("")
