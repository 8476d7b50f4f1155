"""Metadata as a set of named objects: the in-memory view of one version, and a draft of the next.

Every object is a (kind, name) key with its typed value and its JSON body. The body is the
object's Hasura export form; it is what the store keeps as a row, what `export_metadata` splices
into its answer without re-encoding, and what tells a real change from a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Protocol

import msgspec

from metadata.actions import Action, action_document
from metadata.custom_types import TYPE_KINDS
from metadata.data_sources import DataSource
from metadata.metabase import MetabaseAction, MetabaseDatabase, MetabaseModel
from metadata.public_links import PublicLink
from metadata.roles import InheritedRole

# `section` holds a top-level key of a Hasura document that Switchboard keeps but does not serve.
# Public links are named by their action (one link per action), inherited roles by their name.
# Metabase's API keeps its own fields beside actions, sources and its models (metadata/metabase.py).
KINDS = (
    "action", *TYPE_KINDS, "source", "public_link", "inherited_role", "section",
    "metabase_action", "metabase_model", "metabase_database",
)  # fmt: skip

Key = tuple[str, str]

_encode = msgspec.json.Encoder().encode
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "action": msgspec.json.Decoder(Action),
    **{kind: msgspec.json.Decoder(struct) for kind, struct in TYPE_KINDS.items()},
    "source": msgspec.json.Decoder(DataSource),
    "public_link": msgspec.json.Decoder(PublicLink),
    "inherited_role": msgspec.json.Decoder(InheritedRole),
    "section": msgspec.json.Decoder(),
    "metabase_action": msgspec.json.Decoder(MetabaseAction),
    "metabase_model": msgspec.json.Decoder(MetabaseModel),
    "metabase_database": msgspec.json.Decoder(MetabaseDatabase),
}


class Item(NamedTuple):
    value: Any
    body: bytes


def make_item(kind: str, value: Any) -> Item:
    document = action_document(value) if kind == "action" else value
    return Item(value, _encode(document))


def load_item(kind: str, body: bytes) -> Item:
    return Item(_DECODERS[kind].decode(body), body)


_any = msgspec.json.Decoder()
_sorted = msgspec.json.Encoder(order="sorted").encode


def same_body(a: bytes, b: bytes) -> bool:
    """Whether two bodies say the same thing: the same bytes, or the same JSON with keys in
    another order (a transform or a kept section written with its keys reordered is no change).
    Reordering keeps the length, so only bodies of equal length are decoded to compare."""
    return a == b or (len(a) == len(b) and _sorted(_any.decode(a)) == _sorted(_any.decode(b)))


Changes = Mapping[Key, Item | None]
_UNSET = Item(None, b"")


class View(Protocol):
    """What readers (export, consistency checks) need from a version or a draft."""

    def get(self, kind: str, name: str) -> Any | None: ...

    def items(self, kind: str) -> Iterator[tuple[str, Item]]: ...


class State:
    """The objects of one version, by kind."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Item]] = {kind: {} for kind in KINDS}

    def get(self, kind: str, name: str) -> Any | None:
        item = self.objects[kind].get(name)
        return None if item is None else item.value

    def items(self, kind: str) -> Iterator[tuple[str, Item]]:
        return iter(self.objects[kind].items())

    def item(self, key: Key) -> Item | None:
        return self.objects[key[0]].get(key[1])

    def all_items(self) -> dict[Key, Item]:
        return {(kind, name): item for kind, named in self.objects.items() for name, item in named.items()}

    def apply(self, changes: Changes) -> None:
        for (kind, name), item in changes.items():
            if item is None:
                self.objects[kind].pop(name, None)
            else:
                self.objects[kind][name] = item


def snapshot(state: State) -> State:
    """A copy of `state` that later changes to it do not touch (the objects themselves are never
    changed in place, only replaced), for reading it in another thread."""
    copy = State()
    copy.objects = {kind: dict(objects) for kind, objects in state.objects.items()}
    return copy


class Draft:
    """A pending version: changes over a base state, which stays untouched until commit.

    Lookups cost the same however many objects the base holds, so a write that touches one
    action does work proportional to that action, not to the metadata.
    """

    def __init__(self, base: State) -> None:
        self.base = base
        self.changes: dict[Key, Item | None] = {}
        self.allow_inconsistent = False
        # Actions whose runs are deleted with this version (drop_action with clear_data).
        self.cleared_actions: set[str] = set()

    def get(self, kind: str, name: str) -> Any | None:
        key = (kind, name)
        if key in self.changes:
            item = self.changes[key]
            return None if item is None else item.value
        return self.base.get(kind, name)

    def items(self, kind: str) -> Iterator[tuple[str, Item]]:
        for name, item in self.base.items(kind):
            if (kind, name) not in self.changes:
                yield name, item
        for (k, name), changed in self.changes.items():
            if k == kind and changed is not None:
                yield name, changed

    def put(self, kind: str, name: str, value: Any) -> None:
        self.changes[(kind, name)] = make_item(kind, value)

    def delete(self, kind: str, name: str) -> None:
        self.changes[(kind, name)] = None

    def copy(self) -> Draft:
        twin = Draft(self.base)
        twin.changes = dict(self.changes)
        twin.cleared_actions = set(self.cleared_actions)
        return twin

    def changed_since(self, earlier: Draft) -> list[Key]:
        return [key for key, item in self.changes.items() if earlier.changes.get(key, _UNSET) is not item]

    def update(self, items: Mapping[Key, Item]) -> None:
        self.changes.update(items)

    def replace(self, items: Mapping[Key, Item]) -> None:
        """Make the draft hold exactly `items`."""
        self.changes = dict.fromkeys(self.base.all_items())
        self.changes.update(items)

    def effective(self) -> dict[Key, Item | None]:
        """The changes that change something (a put of an identical body is no change)."""
        out: dict[Key, Item | None] = {}
        for key, item in self.changes.items():
            before = self.base.item(key)
            if item is None:
                if before is not None:
                    out[key] = None
            elif before is None or not same_body(before.body, item.body):
                out[key] = item
        return out
