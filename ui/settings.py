"""The Settings tab: query-time settings per browser and per collection, checked when applied and kept in the
browser; "Save as default" writes them to the collection's index folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.core.config import write_toml
from rag.core.errors import RagError
from rag.pipeline import Rag
from ui.collections import Collections

SETTINGS = {  # UI label -> config key
    "Retrieval mode": "retrieval.mode",
    "Fusion": "retrieval.fusion",
    "Reranker": "rerank.method",
    "Passages for the answer (top-k)": "generate.passages",
    "Context mode (applies on re-ingest)": "context.mode",
    "LLM model": "generate.model",
    "Prompt budget (tokens)": "generate.max_prompt_tokens",
    "Answer length (tokens)": "generate.max_tokens",
}


@dataclass(frozen=True)
class SettingsTab:
    inputs: list[Any]
    remembered: gr.BrowserState


def configured(rag: Rag, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(rag.config, section), key)


def kept_settings(collections: Collections, saved: dict | None) -> dict[str, dict[str, Any]]:
    """What a browser applied last time, per collection, where it still applies (a removed model does not).
    Settings kept before collections existed (one flat dict) belong to the first collection."""
    saved = saved or {}
    if any("." in key for key in saved):
        saved = {collections.names[0]: saved}
    kept = {}
    for name, overrides in saved.items():
        if name not in collections.rags or not isinstance(overrides, dict):
            continue
        overrides = {key: v for key, v in overrides.items() if key in SETTINGS.values()}
        try:
            collections.rags[name].check_options(overrides)
        except RagError:
            continue
        kept[name] = overrides
    return kept


def shown_settings(collections: Collections, chosen: str, applied: dict) -> list[Any]:
    """The inputs' values for a collection: what this browser applied to it, else its configured defaults."""
    rag, overrides = collections.get(chosen), (applied or {}).get(collections.name(chosen), {})
    return [overrides.get(key, configured(rag, key)) for key in SETTINGS.values()]


def settings_tab(collections: Collections, collection: gr.State, settings: gr.State, secret: str | None) -> SettingsTab:
    def apply_settings(chosen: str, applied: dict, *values: Any) -> tuple[dict, dict, str]:
        name = collections.name(chosen)
        overrides = {key: v for key, v in zip(SETTINGS.values(), values) if v not in (None, "")}
        try:
            collections.rags[name].check_options(overrides)  # a model that cannot load is refused now
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        applied = {**(applied or {}), name: overrides}
        return applied, applied, f"Settings applied to {name}; this browser keeps them."

    def save_default(chosen: str, applied: dict) -> str:
        rag = collections.get(chosen)
        path = Path(rag.config.index.path) / "rag.toml"
        try:
            write_toml(rag.config.override((applied or {}).get(collections.name(chosen), {})), path)
        except OSError as exc:
            raise gr.Error(f"Could not save {path}: {exc.strerror or exc}") from None
        return f"Saved to {path}. Start with `rag serve --config {path}` (or copy it to ./rag.toml) to use these defaults."

    remembered = gr.BrowserState({}, storage_key="situated-rag-settings", secret=secret)
    defaults = collections.get(None)
    with gr.Tab("Settings"):
        inputs = [
            gr.Radio(["hybrid", "bm25", "dense"], value=configured(defaults, "retrieval.mode"), label="Retrieval mode"),
            gr.Radio(["rrf", "convex"], value=configured(defaults, "retrieval.fusion"), label="Fusion"),
            gr.Dropdown(["none", "prf", "maxsim", "cross-encoder", "llm"], value=configured(defaults, "rerank.method"),
                        label="Reranker"),
            gr.Slider(1, 10, step=1, value=configured(defaults, "generate.passages"), label="Passages for the answer (top-k)",
                      elem_id="top-k"),
            gr.Radio(["none", "prefix", "residual", "additive"], value=configured(defaults, "context.mode"),
                     label="Context mode (applies on re-ingest)"),
            gr.Textbox(value=configured(defaults, "generate.model"), label="LLM model (packaged name or .gguf path)",
                       elem_id="model"),
            gr.Slider(500, 6000, step=100, value=configured(defaults, "generate.max_prompt_tokens"), label="Prompt budget (tokens)"),
            gr.Slider(32, 1024, step=32, value=configured(defaults, "generate.max_tokens"), label="Answer length (tokens)"),
        ]
        with gr.Row():
            apply_btn = gr.Button("Apply to this session", variant="primary", elem_id="apply-settings")
            save_btn = gr.Button("Save as default")
        note = gr.Markdown(elem_id="settings-note")
    apply_btn.click(apply_settings, [collection, settings, *inputs], [settings, remembered, note], api_name=False)
    save_btn.click(save_default, [collection, settings], note, api_name=False)
    return SettingsTab(inputs, remembered)
