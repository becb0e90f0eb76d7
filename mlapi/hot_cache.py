"""Short-lived, per-process memo for lookups every request repeats (the caller's token, the model by name).

Entries live `seconds` at most, so a revoked token or an archived model stops being served within
that time on every worker; 0 turns a cache off.
"""

import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import TTLCache
from django.conf import settings


class HotCache:
    """`setting` names the number of seconds (read on every use, so tests can change it)."""

    def __init__(self, *, setting: str, size: int = 4096):
        self.setting = setting
        self.size = size
        self._seconds: float | None = None
        self._entries: TTLCache | None = None
        self._lock = threading.Lock()

    def _current(self) -> TTLCache | None:
        seconds = getattr(settings, self.setting)
        if seconds != self._seconds:
            with self._lock:
                self._seconds = seconds
                self._entries = TTLCache(maxsize=self.size, ttl=seconds) if seconds > 0 else None
        return self._entries

    def get_or_load(self, key: Hashable, load: Callable[[], Any]) -> Any:
        entries = self._current()
        if entries is None:
            return load()
        with self._lock:
            found = entries.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = load()
        with self._lock:
            entries[key] = value
        return value

    def get(self, key: Hashable) -> Any:
        """The remembered value, or None (also when the cache is off)."""
        entries = self._current()
        if entries is None:
            return None
        with self._lock:
            return entries.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        entries = self._current()
        if entries is not None:
            with self._lock:
                entries[key] = value

    def discard(self, key: Hashable) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.clear()


_MISSING = object()
