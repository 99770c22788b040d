"""Python's cyclic garbage collector, paused while many objects are built that hold no cycles."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Decoding and judging 10,000 runs build records without reference cycles; the collector
    would rescan them again and again as they pile up, for nothing. It runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
