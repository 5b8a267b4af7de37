"""What the disk refuses: a read-only index folder is searched as it is and refuses writes with a reason; a full
disk is a clear error, and nothing indexed before it is lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.core.errors import IndexError_
from tests.conftest import ROOT, make_config

# root writes anything unless it gives up the capability to ignore file modes; setpriv drops it for one child
_AS_ROOT = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _write_docs(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.txt").write_text(f"The {name} pump is serviced every {len(name) * 100} running hours.\n")
    return folder


def _without_write_permission(target: Path) -> list[str]:
    """A command prefix under which this process may not write ``target`` (made read-only here)."""
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None or subprocess.run([*_AS_ROOT, "true"]).returncode != 0:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made here")
    return _AS_ROOT


def test_a_read_only_index_is_searched_and_refuses_writes_with_a_reason(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    docs = _write_docs(tmp_path / "docs", ["zephyr", "kestrel"])
    index = tmp_path / "index"
    config = make_config(index, **{"rerank.method": "none"})
    from rag.pipeline import Rag

    with Rag(config) as rag:  # written, then closed: nothing holds the files
        assert not rag.ingest(docs, progress=False).failed
    prefix = _without_write_permission(index)
    script = textwrap.dedent(f"""
        from rag.core.errors import RagError
        from rag.pipeline import Rag
        from tests.conftest import make_config
        rag = Rag(make_config({str(index)!r}, **{{"rerank.method": "none"}}))
        print("read_only", rag.index.read_only)
        print("top", rag.search("how often is the zephyr pump serviced", 1)[0].chunk.source)
        print("documents", len(rag.documents()))
        print("problems", rag.doctor())
        for name, write in [("ingest", lambda: rag.ingest({str(docs)!r}, progress=False)),
                            ("delete", lambda: rag.delete("docs/zephyr.txt"))]:
            try:
                write()
                print(name, "wrote")
            except RagError as exc:
                print(name, "refused:", exc)
        rag.close()
    """)
    try:
        out = subprocess.run([*prefix, sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        for path in [index, *index.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["read_only"] == "True"
    assert lines["top"] == "docs/zephyr.txt"
    assert lines["documents"] == "2" and lines["problems"] == "[]"
    for name in ("ingest", "delete"):
        assert lines[name].startswith("refused: the index") and "is read-only" in lines[name], lines[name]
    assert "Traceback" not in out.stderr
    with Rag(config) as rag:  # untouched: writable again, it holds what it held
        assert [d.source for d in rag.documents()] == ["docs/kestrel.txt", "docs/zephyr.txt"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A real 16 MiB file system (tmpfs), so that writes meet ENOSPC where the index lives."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small file system needs root with CAP_SYS_ADMIN")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path, small_disk: Path) -> None:
    from rag.pipeline import Rag

    first = _write_docs(tmp_path / "first", ["zephyr", "kestrel"])
    more = tmp_path / "more"
    more.mkdir()
    for n in range(6):  # about 300 chunks: more than the space left below
        (more / f"log{n}.txt").write_text("\n\n".join(
            f"Entry {n}.{i}: valve V{i} on line {n} was inspected and its seal number {n * 1000 + i} recorded."
            for i in range(50)))
    config = make_config(small_disk / "index", **{"rerank.method": "none", "embed.cache": "false"})
    with Rag(config) as rag:
        assert not rag.ingest(first, progress=False).failed
        filler = small_disk / "filler"
        free = shutil.disk_usage(small_disk).free
        with open(filler, "wb") as f:
            f.truncate(0)
            f.write(b"\0" * max(0, free - 256 * 1024))
        with pytest.raises(IndexError_, match="is full"):
            rag.ingest(more, progress=False)
    filler.unlink()
    # the user frees space and runs the command again: a new process (Chroma's client in the one that met the full
    # disk may not write again, see docs/reliability.md)
    script = textwrap.dedent(f"""
        import json
        from rag.pipeline import Rag
        from tests.conftest import make_config
        with Rag(make_config({str(small_disk / "index")!r}, **{{"rerank.method": "none", "embed.cache": "false"}})) as rag:
            report = rag.ingest([{str(first)!r}, {str(more)!r}], progress=False)
            print(json.dumps({{"failed": len(report.failed),
                              "ok": sorted(d.source for d in rag.documents() if d.status == "ok"),
                              "top": rag.search("how often is the zephyr pump serviced", 1)[0].chunk.source,
                              "problems": rag.doctor()}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed"] == 0 and result["problems"] == []  # the interrupted run is finished
    assert result["ok"] == sorted(["first/zephyr.txt", "first/kestrel.txt", *(f"more/log{n}.txt" for n in range(6))])
    assert result["top"] == "first/zephyr.txt"
