"""The one place for configuration.

Precedence, lowest first: dataclass defaults < a TOML file < ``RAG_*`` environment variables < explicit
overrides (CLI ``-o section.key=value`` and flags). Every value is addressed as ``section.key``; environment
variables spell it ``RAG_SECTION_KEY`` (section names hold no underscore, so the first one splits them).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.core.errors import ConfigError


@dataclass(frozen=True)
class IndexConfig:
    path: str = ".rag_index"
    chroma_url: str = ""  # empty: embedded PersistentClient under `path`; else a `chroma run` server
    chroma_token: str = ""
    # prepared files are embedded and written together until this many chunks wait: larger batches mean
    # fewer Chroma round trips; one batch is embedded while the next is read, so a crash loses at most two
    # batches' work (redone on the next run)
    write_batch: int = 256
    # links that lead out of an ingested folder are skipped (a folder may link to /etc or a home directory)
    follow_links: bool = False


@dataclass(frozen=True)
class EmbedConfig:
    model: str = "minilm"  # "minilm" (packaged), a local path, or a Hugging Face id (needs a network)
    max_tokens: int = 256  # MiniLM reads at most 256 tokens: longer text is embedded as windows
    window_overlap: int = 32
    batch_size: int = 32
    dtype: str = "auto"  # auto (bf16 where this CPU has bf16 hardware and a one-time measurement finds it faster) | fp32 | bf16
    threads: int = 0  # 0: all cores
    cache: bool = True  # remember vectors by text in the model cache, so nothing is embedded twice
    query_onnx: bool = True  # embed queries with an ONNX export of the same weights (~3x faster on a CPU)


@dataclass(frozen=True)
class ChunkConfig:
    size: int = 900  # characters; ~200 MiniLM tokens, leaving room for situated context
    overlap: int = 120
    stream_mb: float = 32  # text/Markdown files larger than this are read, embedded and written in parts
    stream_part_chars: int = 1_000_000  # characters per part (bounds memory while streaming)


@dataclass(frozen=True)
class OcrConfig:
    """Scanned PDF pages and image files are read by OCR (Tesseract, ingest/ocr.py); slow on a CPU: a few seconds
    a page per core (docs/benchmarks.md)."""

    enabled: bool = True
    dpi: int = 200  # a PDF page is drawn at this resolution for OCR
    languages: str = "eng"  # Tesseract models, "+"-joined ("eng+deu"); only eng is installed with the package
    workers: int = 0  # pages read at once, one core each; 0: all cores


@dataclass(frozen=True)
class ContextConfig:
    # defaults chosen by the ablation in docs/benchmarks.md: the title/heading path and acronym expansions help,
    # a document summary and neighbouring text (same for many chunks) blur the vectors and are off by default;
    # "additive" matches "residual" in quality and reads each chunk once
    mode: str = "additive"  # none | prefix | residual | additive (see rag/indexing/vectors.py)
    alpha: float = 0.7  # residual/additive: weight of the chunk-only embedding
    max_tokens: int = 64  # budget for the context string in the embedded text
    neighbour_chars: int = 0
    summary_sentences: int = 0
    llm: bool = False


@dataclass(frozen=True)
class MetadataConfig:
    enabled: bool = True
    keyphrases: int = 6
    topics: int = 0  # 0: choose from corpus size


@dataclass(frozen=True)
class RetrievalConfig:
    mode: str = "hybrid"  # bm25 | dense | hybrid
    fusion: str = "convex"  # convex (min-max normalised scores) | rrf; measured in docs/benchmarks.md
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of the dense side in both fusions
    candidates: int = 50  # per retriever, before fusion
    k: int = 10
    expand_acronyms: bool = True
    expand_weight: float = 0.3  # weight of the acronym-expansion keyword query against the question's own


@dataclass(frozen=True)
class Bm25Config:
    k1: float = 1.2
    b: float = 0.75
    boost_context: float = 0.3
    boost_keyphrases: float = 0.5
    boost_acronyms: float = 0.5


@dataclass(frozen=True)
class RerankConfig:
    method: str = "maxsim"  # none | prf | maxsim | cross-encoder | llm (see rag/rerank/, docs/benchmarks.md)
    candidates: int = 20  # fused candidates handed to the reranker (20 scored as well as 50 on docs_qa and
    # sample_beir at a third of the cost; a passage new to maxsim has its sentences embedded once)
    mix: float = 0.2  # weight of the reranker's score against the first stage's (both min-max normalised)
    feedback: int = 3  # prf: top candidates that enrich the query
    weight: float = 0.3  # prf: weight of their centroid
    lexical: float = 0.3  # maxsim: weight of term overlap beside sentence cosine
    # embed every passage's sentences when ingesting, into the embedder's vector cache (embed.cache), so no query
    # waits for them: maxsim and evidence compression then only look them up (docs/benchmarks.md: the cost both ways)
    sentences_at_ingest: bool = True
    window: int = 10  # llm: candidates the model reads
    model: str = ""  # cross-encoder: local folder or Hub id


@dataclass(frozen=True)
class GenerateConfig:
    # auto: the packaged models run in transformers on CPUs with AMX (bf16) or AVX512-VNNI (int8 layers), in llama.cpp
    # otherwise (rag.llm.factory.auto_backend)
    backend: str = "auto"  # auto | llamacpp | openai (Ollama, llama-server, vLLM) | transformers
    model: str = "qwen2.5-coder-1.5b"  # llamacpp: packaged name or .gguf path; openai: model name; transformers: path or id
    base_url: str = ""  # openai backend, e.g. http://127.0.0.1:11434/v1
    api_key: str = ""
    n_ctx: int = 4096
    max_tokens: int = 384
    temperature: float = 0.0
    passages: int = 5
    # hard budget: lower-ranked passages are dropped (and counted); one longer than it on its own is cut to the
    # sentences around the one nearest the question (counted too)
    max_prompt_tokens: int = 2500
    compress: bool = True  # keep only the passage sentences that bear on the question
    # budget for the kept sentences when compressing: evidence_share of what the passages cost whole, at least
    # evidence_tokens; 700 keeps the answer in the prompt wherever the passages hold it on sample_docs and
    # dev_answers, 600 for 60 of 62 on dev_answers, 400 for 16 of 17 and 58 of 62 (benchmarks/probes/evidence_kept.py,
    # docs/benchmarks.md: answer accuracy no lower at 700, the first token about 0.5-0.8 s later)
    evidence_tokens: int = 700
    evidence_share: float = 0.25
    lead_share: float = 0.85  # the top passage goes in whole when it fits in this share of the evidence budget
    threads: int = 0
    dtype: str = "auto"  # transformers backend: auto (bf16 where the CPU computes it in hardware, else int8 with VNNI) | fp32 | bf16 | int8
    # transformers in bf16: write the answer with int8 copies of the weights (reading the prompt stays bf16):
    # about 1.6x faster writing for 1.5 GB more memory with the 1.5B (docs/benchmarks.md)
    int8_writing: bool = True
    concurrency: int = 1  # requests the model serves at once (process-wide); more wait in line
    abstain_text: str = "I could not find this in the documents."
    # abstain without asking the LLM when no passage matches a keyword and none is this close in meaning;
    # retrieval scores barely separate answerable from unanswerable questions (docs/benchmarks.md), so this
    # only catches queries that have nothing to do with the documents
    min_dense_score: float = 0.25


@dataclass(frozen=True)
class UiConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    username: str = ""
    password: str = ""
    concurrency: int = 8  # chats served at once (retrieval runs side by side; generation queues, see above)


@dataclass(frozen=True)
class Config:
    index: IndexConfig = field(default_factory=IndexConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    bm25: Bm25Config = field(default_factory=Bm25Config)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    ui: UiConfig = field(default_factory=UiConfig)

    def override(self, values: Mapping[str, Any]) -> Config:
        """Return a copy with ``{"section.key": value}`` applied; strings are coerced to the field's type."""
        sections: dict[str, dict[str, Any]] = {}
        for dotted, value in values.items():
            section, key = _split_key(dotted)
            sections.setdefault(section, {})[key] = value
        updated = {}
        for section, changes in sections.items():
            current = getattr(self, section)
            kinds = {f.name: f.type for f in fields(current)}
            updated[section] = replace(current, **{k: _coerce(f"{section}.{k}", v, kinds[k]) for k, v in changes.items()})
        config = replace(self, **updated)
        _check(config)
        return config

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        return {f"{s}.{k}": v for s, section in self.as_dict().items() for k, v in section.items()}


# value -> why it is wrong, checked whenever a configuration is made, so a bad value is refused when it is
# given, not as a traceback halfway through a job
_RULES: dict[str, tuple[Any, str]] = {
    "chunk.size": (lambda v: v >= 50, "at least 50 characters"),
    "chunk.overlap": (lambda v: v >= 0, "0 or more"),
    "chunk.stream_mb": (lambda v: v > 0, "above 0"),
    "chunk.stream_part_chars": (lambda v: v >= 1000, "at least 1000"),
    "ocr.dpi": (lambda v: 72 <= v <= 600, "between 72 and 600"),
    "ocr.workers": (lambda v: v >= 0, "0 (all cores) or more"),
    "embed.max_tokens": (lambda v: v >= 40, "at least 40"),
    "embed.batch_size": (lambda v: v >= 1, "at least 1"),
    "index.write_batch": (lambda v: v >= 1, "at least 1"),
    "retrieval.k": (lambda v: v >= 1, "at least 1"),
    "retrieval.candidates": (lambda v: v >= 1, "at least 1"),
    "retrieval.rrf_k": (lambda v: v > 0, "above 0"),
    "rerank.candidates": (lambda v: v >= 1, "at least 1"),
    "generate.passages": (lambda v: v >= 1, "at least 1"),
    "generate.max_tokens": (lambda v: v >= 1, "at least 1"),
    "generate.n_ctx": (lambda v: v >= 256, "at least 256"),
    "generate.concurrency": (lambda v: v >= 1, "at least 1"),
    "ui.port": (lambda v: 0 < v < 65536, "a port number from 1 to 65535"),
    "ui.concurrency": (lambda v: v >= 1, "at least 1"),
}
_SHARES = ("retrieval.dense_weight", "retrieval.expand_weight", "rerank.mix", "rerank.weight", "context.alpha",
           "generate.evidence_share", "generate.lead_share")
SECRETS = ("ui.username", "ui.password", "generate.api_key", "index.chroma_token")  # never written to a settings file


def _check(config: Config) -> None:
    flat = config.flat()
    for name, value in flat.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if name in _SHARES and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be between 0 and 1, got {value!r}")
        rule = _RULES.get(name)
        if rule is not None and not rule[0](value):
            raise ConfigError(f"{name} must be {rule[1]}, got {value!r}")
    if config.chunk.overlap >= config.chunk.size:
        raise ConfigError(f"chunk.overlap ({config.chunk.overlap}) must be smaller than chunk.size ({config.chunk.size})")
    if config.generate.max_tokens >= config.generate.n_ctx:
        raise ConfigError(f"generate.max_tokens ({config.generate.max_tokens}) must be smaller than generate.n_ctx "
                          f"({config.generate.n_ctx})")


def _split_key(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    valid = {f.name: f for f in fields(Config)}
    if section not in valid:
        raise ConfigError(f"unknown config section {section!r} in {dotted!r}; valid: {', '.join(valid)}")
    keys = [f.name for f in fields(valid[section].default_factory())]  # type: ignore[misc]
    if key not in keys:
        raise ConfigError(f"unknown config key {dotted!r}; valid keys of [{section}]: {', '.join(keys)}")
    return section, key


def _coerce(name: str, value: Any, kind: Any) -> Any:
    kind = {"str": str, "int": int, "float": float, "bool": bool}.get(kind, kind) if isinstance(kind, str) else kind
    if not isinstance(value, str) or kind is str:
        if kind in (int, float) and isinstance(value, bool):  # TOML's true is not the number 1
            raise ConfigError(f"{name} must be {kind.__name__}, got {value!r}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is not str and not isinstance(value, kind):
            raise ConfigError(f"{name} must be {kind.__name__}, got {value!r}")
        return value
    try:
        if kind is bool:
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        return kind(value)
    except ValueError:
        raise ConfigError(f"{name} must be {kind.__name__}, got {value!r}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    out = {}
    sections = {f.name for f in fields(Config)}
    for name, value in environ.items():
        if not name.startswith("RAG_") or name in {"RAG_CONFIG", "RAG_HOME"}:
            continue
        section, _, key = name[4:].lower().partition("_")
        if section in sections and key:
            out[f"{section}.{key}"] = value
    return out


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective config. ``path`` defaults to ``$RAG_CONFIG`` or ``rag.toml`` if present."""
    environ = os.environ if environ is None else environ
    config = Config()
    path = path or environ.get("RAG_CONFIG") or ("rag.toml" if Path("rag.toml").is_file() else None)
    if path:
        config = config.override(read_toml(Path(path)))
    config = config.override(_env_overrides(environ))
    return config.override(overrides or {})


def read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    flat = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: top-level key {section!r} must be a [section] table")
        for key, value in table.items():
            flat[f"{section}.{key}"] = value
    return flat


def write_toml(config: Config, path: Path) -> None:
    """Write the values that differ from the defaults, so future default changes still reach the user."""
    defaults = Config().flat()
    lines: list[str] = []
    current = None
    for dotted, value in config.flat().items():
        if defaults[dotted] == value or dotted in SECRETS:  # logins and keys stay in the environment, not in a file
            continue
        section, key = dotted.split(".", 1)
        if section != current:
            lines.append(f"\n[{section}]")
            current = section
        lines.append(f"{key} = {_toml_value(value)}")
    path.write_text("\n".join(lines).lstrip() + "\n", encoding="utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
