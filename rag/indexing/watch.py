"""``rag ingest DIR --watch``: re-sync whenever the files under the watched folders change.

Polling, not OS events: a fingerprint of every supported file (path, size, mtime) is compared every
``interval`` seconds. It works the same on every platform and filesystem (network mounts, containers) and
needs no extra package; a sync only runs when something changed, and it is a sync, so it is cheap.
A change is acted on once the folder has been quiet for one interval, so a file being copied is not
ingested half-written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.sync import scan

if TYPE_CHECKING:
    from rag.core.types import IngestReport

log = logging.getLogger(__name__)

Fingerprint = frozenset[tuple[str, int, float]]


def fingerprint(roots: Iterable[Path]) -> Fingerprint:
    seen: set[tuple[str, int, float]] = set()
    for root in roots:
        try:
            files, _ = scan(root)
        except (FileNotFoundError, NotADirectoryError):
            continue  # a vanished root: its documents go at the next sync
        seen |= {(str(f.path), f.size, f.mtime) for f in files}
    return frozenset(seen)


def watch(
    sync: Callable[[list[Path]], IngestReport],
    paths: Iterable[str | Path],
    interval: float = 2.0,
    stop: threading.Event | None = None,
    on_sync: Callable[[IngestReport], None] | None = None,
) -> None:
    """``sync(paths)`` now (``Rag.ingest``), then again after each change, until ``stop`` is set (or forever)."""
    roots = [Path(p) for p in paths]
    stop = stop or threading.Event()
    synced = fingerprint(roots)
    report = sync(roots)
    if on_sync:
        on_sync(report)
    last = synced
    while not stop.wait(interval):
        current = fingerprint(roots)
        if current != last:  # still changing: wait until it settles
            last = current
            continue
        if current == synced:
            continue
        synced = current
        report = sync(roots)
        if on_sync:
            on_sync(report)
