"""The Evaluate tab: score the chosen collection with a question file: retrieval (fast) and, when asked, whole
answers (every question asked of the model: right answer, right page, refusal where no document answers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from rag.core.errors import RagError
from rag.eval.runner import evaluate_index
from ui.collections import Collections
from ui.render import answer_metrics_table, answers_table, as_written, metrics_table, misses_table


def evaluate_tab(collections: Collections, collection: gr.State, settings: gr.State) -> None:
    def evaluate(chosen: str, applied: dict, dataset: str, upload: str | None, compare_mode: str, answers: bool,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        path = upload or (dataset or "").strip()
        if not path or not Path(path).exists():  # the reason goes in the note; earlier results stay on the page
            return gr.skip(), gr.skip(), gr.skip(), f"**Not scored:** no question file at `{as_written(path or '(none)')}`."
        rag = collections.view(chosen, applied)
        try:
            current = evaluate_index(rag, path)
            other = None
            if compare_mode:
                compared = {**(applied or {}).get(collections.name(chosen), {}), "retrieval.mode": compare_mode}
                other = evaluate_index(collections.get(chosen).with_options(compared), path)
            scored = evaluate_index(rag, path, answers=True,
                                    progress=lambda step, done, total: progress((done, total or None), desc=step)) if answers else None
        except RagError as exc:
            return gr.skip(), gr.skip(), gr.skip(), f"**Not scored:** {as_written(str(exc))}"
        found, unanswerable = current.metrics["n_queries"], current.metrics["n_unanswerable"]
        note = f"Scored {found} question{'s' * (found != 1)} with a page to find"
        if unanswerable:
            note += f" and {unanswerable} that no document answers"
            note += ": see whether they were refused under Answers" if answers else " (score the answers to see whether they are refused)"
        answer_rows = answers_table(scored) if scored else {"headers": ["id"], "data": [["(answers not scored)"]]}
        return (metrics_table(current, other, compare_mode, answer_metrics_table(scored) if scored else None),
                misses_table(current), answer_rows, note + ".")

    with gr.Tab("Evaluate"):
        gr.Markdown("Score the index with a question file (`{id, question, answer, source, page}` per line, like "
                    "`sample_docs/questions.jsonl`; a question with no `source` is one no document answers).")
        with gr.Row():
            dataset = gr.Textbox(value="sample_docs/questions.jsonl", label="Question file path", scale=3)
            upload = gr.File(label="or upload one", type="filepath", file_types=[".jsonl"], scale=2, elem_id="eval-upload")
            compare = gr.Dropdown(["", "bm25", "dense", "hybrid"], value="", label="Compare with retrieval mode", scale=1)
        answers = gr.Checkbox(label="Score the answers too (asks the language model every question: minutes, not seconds)",
                              elem_id="score-answers")
        run = gr.Button("Run evaluation", variant="primary", elem_id="run-eval")
        note = gr.Markdown(elem_id="eval-note")
        metrics = gr.Dataframe(label="Metrics", elem_id="metrics")
        misses = gr.Dataframe(label="Questions whose page was not in the top 5", elem_id="misses", wrap=True)
        answered = gr.Dataframe(label="Answers", elem_id="answers", wrap=True, column_widths=["8%", "28%", "16%", "28%", "20%"])
    run.click(evaluate, [collection, settings, dataset, upload, compare, answers], [metrics, misses, answered, note],
              api_name=False)
