"""The code's shape: data flows one way (files -> ingest -> index -> retrieve -> rerank -> answer -> front ends),
no two files import each other, no file does everything. Imports inside functions count as much as the rest."""

from __future__ import annotations

import ast
import re
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ingest", "ui")
MAX_LINES = 400

# what each family may import besides itself; anything not listed is forbidden
ALLOWED = {
    "rag.core": set(),
    "ingest": {"rag.core"},
    "rag.models": {"rag.core"},
    "rag.store": {"rag.core"},
    "rag.llm": {"rag.core", "rag.models"},
    "rag.retrieval": {"rag.core", "rag.store", "rag.models"},
    "rag.rerank": {"rag.core", "rag.models", "rag.retrieval"},
    "rag.answer": {"rag.core", "rag.llm", "rag.retrieval"},
    "rag.indexing": {"rag.core", "ingest", "rag.models", "rag.store", "rag.retrieval", "rag.llm"},
    "rag.langchain": {"rag.core"},
    "rag.pipeline": {"rag.core", "ingest", "rag.models", "rag.store", "rag.retrieval", "rag.rerank", "rag.llm", "rag.answer",
                     "rag.indexing", "rag.langchain"},
    "rag.eval": {"rag.core", "ingest", "rag.models", "rag.pipeline"},
    "rag.bench": {"rag.core", "ingest", "rag.models", "rag.eval", "rag.pipeline"},
    "rag.cli": {"rag.core", "rag.pipeline", "rag.indexing", "rag.eval", "rag.bench", "rag.llm", "rag.models", "ui"},
    "ui": {"rag.core", "rag.pipeline", "rag.eval", "rag.store"},
    "rag": {"rag.core", "rag.pipeline"},  # rag/__init__.py re-exports the public names
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # "from rag.core import analyzer" names a module
    return out


def family(module: str) -> str:
    if module in ("rag", "rag.pipeline", "rag.cli", "rag.langchain", "rag.__main__"):
        return "rag.cli" if module == "rag.__main__" else module
    if module.startswith("rag."):
        return ".".join(module.split(".")[:2])
    return module.split(".")[0]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imports(path, name) if m in known and m != name} for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle between files, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def violations(edges: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(edges.items()):
        if module == "ingest.__main__":  # `python -m ingest` is the CLI's ingest command
            continue
        own = family(module)
        for target in sorted(targets):
            other = family(target)
            if other != own and other not in ALLOWED[own] and not target.startswith(own + "."):
                out.append(f"{module} imports {target} ({own} -> {other})")
    return out


def test_imports_go_one_way_and_form_no_cycle() -> None:
    edges = graph()
    assert set(map(family, edges)) <= set(ALLOWED), "every module belongs to a known family"
    assert violations(edges) == []
    assert cycle(edges) == []
    # only the CLI's serve command reaches the UI
    assert sorted(m for m, ts in edges.items() if any(family(t) == "ui" for t in ts) and family(m) != "ui") == ["rag.cli"]


def test_the_check_catches_the_old_shapes() -> None:
    """The cycles and directions this layout removed would each fail the test above."""
    edges = graph()
    assert cycle({**edges, "rag.eval.runner": edges["rag.eval.runner"], "rag.pipeline": edges["rag.pipeline"] | {"rag.eval.runner"}})
    assert violations({"ingest.enrich": {"rag.store.index"}}) == ["ingest.enrich imports rag.store.index (ingest -> rag.store)"]
    assert violations({"rag.core.config": {"rag.models.cpu"}})
    assert violations({"rag.pipeline": {"ui.app"}})
    assert violations({"rag.retrieval.retriever": {"rag.rerank.factory"}})


def test_no_file_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in modules().values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_imported_package_is_declared() -> None:
    """A third-party import in the product must be a declared dependency, not something another package pulls in."""
    declared = {re.split(r"[=<>\[ ;]", d.strip().strip('",'), maxsplit=1)[0].lower().replace("_", "-")
                for d in re.findall(r'^\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)}
    owners = packages_distributions()
    stdlib = __import__("sys").stdlib_module_names
    missing = set()
    for name, path in modules().items():
        for target in imports(path, name):
            top = target.split(".")[0]
            if not top or top in stdlib or top in PACKAGES or top not in owners:
                continue
            dists = {d.lower().replace("_", "-") for d in owners[top]}
            if not dists & declared:
                missing.add(f"{name}: {top} ({', '.join(sorted(dists))})")
    assert missing == set()
