"""What the disk under an index allows, and what to tell the user when it refuses.

A read-only index folder (a shared drive, a folder copied from another user) must still be searchable, and a full
disk must read as a full disk, not as a database traceback (Chroma reports one as "Error in compaction: Failed to
apply logs to the metadata segment"). Whatever was written before stays: every document write is bracketed in the
manifest, so the next run after freeing space finishes the job.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.core.errors import IndexError_

LOW_SPACE = 32 * 2**20  # below this much free space, a failed write is taken for a full disk
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def writable(folder: Path, files: tuple[str, ...] = ()) -> bool:
    """Whether this process may write the folder and those of ``files`` (paths under it) that exist."""
    paths = [folder, *(folder / f for f in files)]
    return all(os.access(p, os.W_OK) for p in paths if p.exists())


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def failure(exc: BaseException, folder: Path | str) -> IndexError_:
    """A storage error as the user should read it: a full disk, a read-only index, or the error itself."""
    text = f"{type(exc).__name__}: {exc}"
    code = getattr(exc, "errno", None)
    free = free_bytes(Path(folder)) if isinstance(folder, Path) else None
    if code in _FULL or "disk is full" in text or "No space left" in text or (free is not None and free < LOW_SPACE):
        space = "" if free is None else f" ({free / 2**20:.1f} MB free)"
        return IndexError_(f"the disk holding the index {folder} is full{space}: {text}. Nothing indexed before is "
                           "lost; free some space and run the command again (an interrupted ingest resumes)")
    if code in _READ_ONLY or "readonly database" in text or "read-only" in text:
        return IndexError_(f"the index {folder} is read-only: {text}. It can be searched; writing needs write "
                           "permission on the folder")
    return IndexError_(f"the index {folder} could not be read or written: {text}")


class Guarded:
    """Calls through to ``target``; the storage errors it raises (``errors``) come out as ``failure``'s message."""

    def __init__(self, target: Any, folder: Path | str, errors: tuple[type[BaseException], ...]):
        self._target, self._folder, self._errors = target, folder, errors

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        return self._guard(attr)

    def _guard(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except self._errors as exc:
                raise failure(exc, self._folder) from exc

        return guarded
