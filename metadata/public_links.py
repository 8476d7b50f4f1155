"""Public links: an action anyone may run, by a link's UUID, as the configured public role."""

from __future__ import annotations

import uuid

from metadata.strict import Strict


class PublicLink(Strict):
    action: str
    uuid: str

    def __post_init__(self) -> None:
        try:
            self.uuid = str(uuid.UUID(self.uuid))
        except ValueError:
            raise ValueError(f"not a UUID: {self.uuid!r}") from None
