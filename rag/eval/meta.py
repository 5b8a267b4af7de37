"""What every stored result says about how it was made: commit, date, machine, models and the command line,
so that any number in the docs can be traced and rerun."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.ocr import engine_version
from ingest.sync import file_sha256
from rag.core.config import Config
from rag.models.bf16_probe import precision_note
from rag.models.cpu import cpu_model, speed_flags
from rag.models.packaged import PACKAGED_GGUF

ROOT = Path(__file__).resolve().parents[2]


def run_meta(config: Config, argv: list[str] | None = None, program: str = "rag") -> dict[str, Any]:
    return {
        "commit": _git("rev-parse", "HEAD"),
        # results a run writes are not code: a second run beside a first one's output is still clean
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([program, *(sys.argv[1:] if argv is None else argv)]),
        "cpu": {"model": cpu_model(), "cores": os.cpu_count(), "flags": speed_flags()},
        "python": platform.python_version(),
        "models": {"embed": config.embed.model,
                   "embed_precision": precision_note(config.embed.dtype, config.embed.model, config.embed.max_tokens),
                   "generate": config.generate.model,
                   "generate_sha256": PACKAGED_GGUF[config.generate.model].sha256 if config.generate.model in PACKAGED_GGUF
                   else _file_sha256(config.generate.model),
                   "ocr": f"{engine_version()}, {config.ocr.languages} at {config.ocr.dpi} dpi" if config.ocr.enabled else "off"},
        "config": config.flat(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@lru_cache(maxsize=4)
def _file_sha256(path: str) -> str:
    return file_sha256(Path(path)) if Path(path).is_file() else ""
