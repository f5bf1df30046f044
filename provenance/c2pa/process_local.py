"""A cache whose entries belong to the process that made them.

c2pa objects wrap native handles and locks that must not cross fork(): Celery prefork and gunicorn
workers each build their own on first use. Entries are keyed by os.getpid(), so a forked child
ignores what it inherited instead of reusing the parent's handles.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessLocalCache(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[int, Hashable], T] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        pid = os.getpid()
        with self._lock:
            # Entries made before a fork belong to the parent. Closing them here would free native
            # memory the parent still owns, so they are only forgotten.
            for stale in [k for k in self._items if k[0] != pid]:
                del self._items[stale]
            item = self._items.get((pid, key))
            if item is None:
                item = make()
                self._items[(pid, key)] = item
            return item
