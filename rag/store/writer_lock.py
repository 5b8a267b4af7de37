"""One writer per index across processes: two `rag ingest` runs (or an app and a CLI) writing one index at once
would plan against each other's half-done work. The lock is an OS lock on ``INDEX/write.lock``, released by the
kernel when its holder exits, however it exits (a killed process leaves nothing stale behind); the file names
the holder, so whoever waits is told who it waits for."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.core.errors import IndexError_
from rag.store.storage import failure

log = logging.getLogger(__name__)


class WriterLock:
    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self._threads = threading.Lock()  # threads of this process take turns first: an OS lock is per open file

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.read_only:
            raise IndexError_(f"the index {self.path.parent} is read-only: it can be searched, but adding, deleting "
                              "or repairing documents needs write permission on the folder")
        try:
            f = open(self.path, "a+")
        except OSError as exc:
            raise failure(exc, self.path.parent) from None
        with self._threads, f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                log.warning("another writer holds the index %s (%s): waiting for it to finish", self.path.parent, holder)
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0)
                f.truncate()
                f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
                f.flush()
                yield
            finally:
                f.seek(0)
                f.truncate()
                fcntl.flock(f, fcntl.LOCK_UN)
