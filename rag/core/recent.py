"""A small most-recently-used cache: what was made last is kept, the least recently used goes first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    def __init__(self, limit: int):
        self.limit = limit
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The item for ``key``, made by ``make()`` the first time (under the lock: made once)."""
        with self._lock:
            if key not in self._items:
                self._items[key] = make()
                while len(self._items) > self.limit:
                    self._items.popitem(last=False)
            self._items.move_to_end(key)
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)
