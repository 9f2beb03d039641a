"""Harmless variants: a correct checker calls these CONFORMING (a flag on them is a false alarm)."""

from __future__ import annotations

import random
import time
from typing import Any

from pubsafe.refimpl import Engine, MemoryStore

# -- benign variants: a correct checker must call these CONFORMING ----------------------


class ExtraReadsEngine(Engine):
    """Reads current and stats every blob once more than it needs to: harmless."""

    def publish(self, tenant, surface, artifacts):
        self.read_current(tenant, surface)
        receipt = super().publish(tenant, surface, artifacts)
        for version_key in receipt.written:
            self.store.exists(version_key)
        return receipt


class UnorderedSlowStore(MemoryStore):
    """Lists in no particular order and takes a little time over every call: harmless."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._shuffle = random.Random(7).shuffle

    def _pause(self) -> None:
        time.sleep(0.00005)

    def list(self, prefix: str = "") -> list[str]:
        self._pause()
        keys = super().list(prefix)
        self._shuffle(keys)
        return keys

    def get(self, key: str) -> bytes:
        self._pause()
        return super().get(key)

    def put(self, key: str, data: bytes) -> str:
        self._pause()
        return super().put(key, data)
