"""What changed since the last run: walk a folder, fingerprint files, compare with the manifest."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import supported

# Bump when loading, chunking, situated context or metadata produce different chunks for the same file:
# documents indexed by an older version are processed again on the next run.
# 2: PDF running heads, footers and page numbers are dropped.
# 3: PDF tables with merged header cells, and tables drawn with dot leaders, become rows; HTML navigation
# dropped; plain-text headings (framed, after a rule, in capitals) found.
# 4: scanned PDF pages, and the text of figures on pages with text, read by OCR.
RECIPE_VERSION = 4


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    source: str  # shown to users: the root folder's name / path inside it
    size: int
    mtime: float


@dataclass(frozen=True)
class Known:
    """What the manifest remembers of a document."""

    source: str
    path: str
    sha256: str
    size: int
    mtime: float
    ok: bool
    recipe: str = ""  # how its chunks were made (see ``recipe``); another recipe means indexing it again
    excluded: bool = False  # deleted by the user: a sync of its folder leaves it out until the file itself is given


@dataclass
class Plan:
    new: list[SourceFile] = field(default_factory=list)
    changed: list[SourceFile] = field(default_factory=list)
    unchanged: list[SourceFile] = field(default_factory=list)
    deleted: list[Known] = field(default_factory=list)
    excluded: list[SourceFile] = field(default_factory=list)  # deleted by the user, left out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def recipe(settings: dict) -> str:
    """A short fingerprint of the ingestion code's version and the settings that shape a document's chunks."""
    text = json.dumps({"version": RECIPE_VERSION, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scan(root: Path, prefix: str = "", follow_links: bool = False) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Supported files under ``root`` (or ``root`` itself), recursively; hidden entries are not entered. Sources
    are ``prefix/relative path`` (``prefix`` defaults to the folder's name). Links that lead out of ``root`` are
    skipped unless ``follow_links``: a folder given to index is what is indexed, not what it points at."""
    root = root.resolve()
    if root.is_file():
        st = root.stat()
        return [SourceFile(root, prefix or root.name, st.st_size, st.st_mtime)], []
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist")
    prefix = prefix or root.name
    files, skipped = [], []
    seen_dirs: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop
            skipped.append((folder, "symlink loop, not entered"))
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        kept = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            if not follow_links and _leaves(Path(folder) / d, root):
                skipped.append((f"{prefix}/{(Path(folder) / d).relative_to(root).as_posix()}", _OUTSIDE))
                continue
            kept.append(d)
        dirs[:] = kept
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith("."):
                continue
            if not supported(path):
                skipped.append((str(path.relative_to(root)), f"unsupported file type {path.suffix or '(none)'}"))
                continue
            source = f"{prefix}/{path.relative_to(root).as_posix()}"
            if not follow_links and _leaves(path, root):
                skipped.append((source, _OUTSIDE))
                continue
            try:
                st = path.stat()
            except OSError as exc:
                skipped.append((str(path), f"cannot stat: {exc.strerror}"))
                continue
            files.append(SourceFile(path, source, st.st_size, st.st_mtime))
    return files, skipped


_OUTSIDE = "a link to something outside the folder, not followed (rag ingest --follow-links follows it)"


def _leaves(path: Path, root: Path) -> bool:
    """Whether ``path`` is a link whose target lies outside ``root``."""
    if not path.is_symlink():
        return False
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        return True
    return not (target == root or target.is_relative_to(root))


def source_prefix(root: Path, known: list[Known]) -> str:
    """How sources under ``root`` begin: the folder's name, or as many of its parents' names as it takes to
    differ from documents indexed from another folder of the same name ("A/reports" vs "B/reports"). A file
    given on its own that the index knows keeps its source."""
    root = root.resolve()
    if root.is_file():  # a file indexed before (from its folder, say) keeps the source it has
        same = next((k.source for k in known if k.path and Path(k.path) == root), None)
        if same:
            return same
    parts = root.parts[1:]
    for n in range(1, len(parts) + 1):
        prefix = "/".join(parts[-n:])
        if not any((k.source == prefix or k.source.startswith(prefix + "/")) and k.path and not _within(Path(k.path), root)
                   for k in known):
            return prefix
    return "/".join(parts)


def _within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def plan(root: Path, files: list[SourceFile], known: list[Known], current: Collection[str] = ("",)) -> Plan:
    """Sort files into new / changed / unchanged, and known documents under ``root`` into deleted; a file
    indexed with a recipe not in ``current`` counts as changed."""
    by_source = {k.source: k for k in known}
    result = Plan()
    present = set()
    given = root.is_file()  # a file named on its own is added even when the user deleted it before
    for f in files:
        present.add(f.source)
        k = by_source.get(f.source)
        if k is not None and k.excluded and not given:
            result.excluded.append(f)
        elif k is None or k.excluded:
            result.new.append(f)
        elif k.ok and k.size == f.size and k.mtime == f.mtime and k.recipe in current:
            result.unchanged.append(f)
        else:
            result.changed.append(f)
    root = root.resolve()
    for k in known:
        inside = Path(k.path) == root or Path(k.path).is_relative_to(root) if k.path else False
        if inside and k.source not in present:
            result.deleted.append(k)
    return result
