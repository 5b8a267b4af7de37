"""The indexes one app serves, by name. A collection is one index (a project, a client, a manual set) with its own
documents, settings and evaluation; the page switches between them. One index is one collection, and the page
then shows no switch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.pipeline import Rag


def collection_names(folders: Sequence[Path]) -> list[str]:
    """A name per index folder: its own name, or with its parents' names where two folders share one."""
    parts = [Path(f).resolve().parts for f in folders]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        clashes = {n for n in names if names.count(n) > 1}
        grown = [d + 1 if n in clashes and d < len(p) else d for p, d, n in zip(parts, depth, names)]
        if grown == depth:
            return [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]
        depth = grown


@dataclass(frozen=True)
class Collections:
    rags: dict[str, Rag]  # name -> its index, in the order given; the first is the one a new browser sees

    @classmethod
    def of(cls, rags: Rag | Sequence[Rag]) -> Collections:
        rags = [rags] if isinstance(rags, Rag) else list(rags)
        if not rags:
            raise ValueError("an app serves at least one index")
        return cls(dict(zip(collection_names([Path(r.config.index.path) for r in rags]), rags)))

    @property
    def names(self) -> list[str]:
        return list(self.rags)

    def name(self, chosen: str | None) -> str:
        """The collection a browser chose, or the first where it chose none or one no longer served."""
        return chosen if chosen in self.rags else self.names[0]

    def get(self, chosen: str | None) -> Rag:
        return self.rags[self.name(chosen)]

    def view(self, chosen: str | None, settings: dict[str, dict[str, Any]] | None) -> Rag:
        """The chosen collection with the settings this browser applied to it (one view per combination)."""
        name = self.name(chosen)
        overrides = (settings or {}).get(name) or {}
        return self.rags[name].with_options(overrides) if overrides else self.rags[name]

    def slot(self, chosen: str | None) -> int:
        """The collection's place in the order, as the document route names it."""
        return self.names.index(self.name(chosen))
