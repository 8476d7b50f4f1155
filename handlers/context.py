"""What a handler gets: the runtime (store, HTTP client, runs), the caller, the envelope's
version, and the draft it may change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from handlers.execution.engines import Engines
from handlers.execution.outgoing import Outgoing
from handlers.execution.proxies import Proxies
from handlers.execution.rate_limit import RateLimiter
from handlers.telemetry import Metrics
from handlers.tracing import Tracing
from metadata.actions import Action
from metadata.api_keys import ApiKeys
from metadata.objects import Draft
from metadata.runs import Run, Runs
from metadata.store import Store
from metadata.users import Users

ADMIN_ROLE = "admin"
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Session:
    role: str
    # Session variables (x-hasura-*, lowercased), as the handler will see them.
    variables: dict[str, str] = field(default_factory=dict)
    # The client's request headers, for actions that forward them.
    headers: Mapping[str, str] = field(default_factory=dict)
    # When the credentials stop being valid (a JWT's exp, an API key's expires_at; time.time()):
    # a websocket opened with them is closed then.
    expires_at: float | None = None
    # The SHA-256 of the API key the session came with: a websocket opened with it is closed when
    # the key is revoked.
    api_key: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


class LocalWorkers:
    """A server's async workers as run_action sees them; this one (no workers) takes nothing."""

    token: str | None = None  # the lease holder runs handed over here are written with

    def reserve(self) -> bool:
        """Take a free slot for a run about to be queued, when nothing else is waiting."""
        return False

    def unreserve(self) -> None:
        """Give back a slot reserved for a run that was not queued after all."""

    def hand_over(self, run: Run) -> None:
        """Run a run queued into a reserved slot (written as held by `token`)."""

    def wake(self) -> None:
        """A run was queued for any worker to claim."""


@dataclass
class Runtime:
    """What lives as long as the server: built by the app's lifespan."""

    store: Store
    runs: Runs
    api_keys: ApiKeys
    users: Users  # who signs in to Metabase's API
    http: Outgoing | None = None  # the lifespan's
    # How outgoing calls reach a URL: HTTP_PROXY / HTTPS_PROXY / NO_PROXY, read when the server starts.
    proxies: Proxies = field(default_factory=lambda: Proxies({}))
    audit_sync_runs: bool = False
    lease_margin: float = 10.0
    # This server's async workers (the worker pool puts itself here when it starts).
    workers: LocalWorkers = field(default_factory=lambda: LocalWorkers())
    # Called once a worker has finished a run (committed), with the run as it was claimed and its
    # output or errors: GraphQL subscriptions push the result at once.
    run_finished: Callable[[Run, Any, Any], None] = lambda run, output, errors: None
    engines: Engines = field(default_factory=Engines)
    public_role: str = "public"
    public_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10))
    public_sharing: bool = True  # whether public links may be made and run
    metrics: Metrics = field(default_factory=Metrics)
    # Spans exported over OTLP (otlp_endpoint); None: tracing is off, and costs nothing.
    tracing: Tracing | None = None


@dataclass
class Replay:
    """A logged run started again (replay_action_run): the run it replays and who replayed it;
    `run_id` is the new run's, once it is logged."""

    of: str
    by: dict[str, str]
    run_id: str | None = None


@dataclass
class Call:
    """One run of an action, as every executor (webhook, sql, table) gets it."""

    action: Action
    input: dict[str, Any]
    session_variables: dict[str, str]
    forwarded: dict[str, str]  # client headers to forward; stored with async runs only when used
    # The GraphQL document that asked for this run (null for run_action and async runs, as Hasura).
    request_query: str | None = None
    # Set-Cookie values of the handler's answer, for the caller (a synchronous run's only).
    cookies: list[str] = field(default_factory=list)
    # The run's id, for an async run: sent as the Idempotency-Key of every delivery, so that a
    # handler can drop a repeat (a run whose finish was lost in a crash is delivered again).
    run_id: str | None = None
    # Set when this call replays a logged run: it is logged as a new run linked to that one.
    replay: Replay | None = None

    def payload(self) -> bytes:
        """Hasura's webhook payload."""
        return _encode(
            {
                "action": {"name": self.action.name},
                "input": self.input,
                "session_variables": self.session_variables,
                "request_query": self.request_query,
            }
        )


@dataclass
class Answer:
    """An answer with response headers for the caller: the Set-Cookie of a synchronous handler."""

    body: Any
    cookies: list[str]


@dataclass
class Changed:
    """The answer of a modifying operation; the runner adds the resource_version it produced."""

    body: dict[str, Any] = field(default_factory=lambda: {"message": "success"})


@dataclass
class Context:
    runtime: Runtime
    session: Session
    version: int
    draft: Draft | None = None
    # Runs one envelope of a `bulk` on this context's draft (set by the dispatcher).
    nested: Callable[[Context, msgspec.Raw], Awaitable[Any]] | None = None
    # Inside a `bulk_atomic`: the envelopes' changes are checked for consistency once, together,
    # when the whole bulk is done (so one envelope may rely on a later one), not one by one.
    deferred: bool = False

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def changing(self) -> Draft:
        assert self.draft is not None, "only modifying operations get a draft"
        return self.draft
