"""A cache bounded both in entries and in the bytes of the texts it is keyed by.

GraphQL documents are cached by their text, and a document's parsed form takes some fifty times
the memory of its text: counting entries alone, a few large documents would hold hundreds of
megabytes. The least recently used entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, entries: int, chars: int) -> None:
        self.entries, self.chars = entries, chars
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        """The characters of text held."""
        return self._size

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, chars: int) -> V:
        """Keep `value`, whose key's text is `chars` long (nothing larger than the whole budget)."""
        if chars > self.chars:
            return value
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= old[1]
        self._items[key] = (value, chars)
        self._size += chars
        while len(self._items) > self.entries or self._size > self.chars:
            _, (_, gone) = self._items.popitem(last=False)
            self._size -= gone
        return value

    def clear(self) -> None:
        self._items.clear()
        self._size = 0
