"""What a handler gets: the store, the caller, the envelope's version, and the draft it may change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from metadata.objects import Draft
from metadata.store import Store

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Session:
    role: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


@dataclass
class Changed:
    """The answer of a modifying operation; the runner adds the resource_version it produced."""

    body: dict[str, Any] = field(default_factory=lambda: {"message": "success"})


@dataclass
class Context:
    store: Store
    session: Session
    version: int
    draft: Draft | None = None
    # Runs one envelope of a `bulk` on this context's draft (set by the dispatcher).
    nested: Callable[[Context, msgspec.Raw], Awaitable[Any]] | None = None

    @property
    def changing(self) -> Draft:
        assert self.draft is not None, "only modifying operations get a draft"
        return self.draft
