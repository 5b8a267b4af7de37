"""Check benchmarks/dev_answers/questions.jsonl against the documents in docs/.

For every answerable question the gold answer must appear verbatim
(case-insensitive, whitespace-normalised) in the text of its gold page:
  * PDF: pypdf.PdfReader(path).pages[page - 1].extract_text()
  * HTML: the visible text (BeautifulSoup get_text, with script/style/noscript/
    template/svg/nav/footer removed, as the product's HTML loader does); page 1
  * .txt/.md: the file text; page 1
Unanswerable questions must have answer "", source "", page 0 and kind
"unanswerable".  Also checks ids are unique, kinds are known, and gold answers
are short (1-6 words).

Exits 1 if any question fails, 0 otherwise.

Usage:  .venv/bin/python benchmarks/dev_answers/check.py [--questions F] [--docs D] [-v]
  -v  also list, for each answerable question, how often the answer occurs on
      its page and in the whole document (a rough ambiguity indicator)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"table", "list", "names", "number_words", "prose", "unanswerable"}
FIELDS = {"id", "question", "answer", "source", "page", "answerable", "kind"}
MAX_ANSWER_WORDS = 6


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


@cache
def pages_of(path: Path) -> tuple[str, ...]:
    """The normalised text of each page (1 page for non-PDF files)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return tuple(norm(p.extract_text() or "") for p in PdfReader(path).pages)
    raw = path.read_text(encoding="utf-8", errors="replace")
    if suffix in (".html", ".htm"):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(raw, "html.parser")
        for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer"]):
            tag.decompose()
        return (norm(soup.get_text(" ")),)
    return (norm(raw),)


def check(questions: Path, docs: Path, verbose: bool) -> int:
    failures: list[str] = []
    kinds: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    seen: set[str] = set()
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    for q in rows:
        qid = q.get("id", "?")

        def fail(msg: str, qid: str = qid) -> None:
            failures.append(f"FAIL {qid}: {msg}")

        missing = FIELDS - q.keys()
        if missing:
            fail(f"missing fields {sorted(missing)}")
            continue
        if qid in seen:
            fail("duplicate id")
        seen.add(qid)
        kind = q["kind"]
        kinds[kind] += 1
        if kind not in KINDS:
            fail(f"unknown kind {kind!r}")
        if not q["question"].strip().endswith("?"):
            fail("question should end with '?'")
        if not q["answerable"]:
            if (q["answer"], q["source"], q["page"], kind) != ("", "", 0, "unanswerable"):
                fail('unanswerable needs answer "", source "", page 0, kind "unanswerable"')
            continue
        if kind == "unanswerable":
            fail('answerable question tagged "unanswerable"')
        sources[q["source"]] += 1
        answer = norm(q["answer"])
        if not answer or len(answer.split()) > MAX_ANSWER_WORDS:
            fail(f"gold answer must be 1-{MAX_ANSWER_WORDS} words: {q['answer']!r}")
        path = docs / q["source"]
        if not path.is_file():
            fail(f"source not found: {path}")
            continue
        pages = pages_of(path)
        page = q["page"]
        if not isinstance(page, int) or not 1 <= page <= len(pages):
            fail(f"page {page!r} out of range 1..{len(pages)} for {q['source']}")
            continue
        text = pages[page - 1]
        if answer not in text:
            elsewhere = [i + 1 for i, t in enumerate(pages) if answer in t]
            hint = f" (found on page(s) {elsewhere[:10]})" if elsewhere else " (not found anywhere in the document)"
            fail(f"answer {q['answer']!r} not on page {page} of {q['source']}{hint}")
        elif verbose:
            on_page = text.count(answer)
            in_doc = sum(t.count(answer) for t in pages)
            print(f"ok   {qid:<5} {kind:<12} {q['source']}:{page}  answer {q['answer']!r}  on page x{on_page}, in doc x{in_doc}")

    answerable = sum(1 for q in rows if q.get("answerable"))
    print(f"{len(rows)} questions: {answerable} answerable, {len(rows) - answerable} unanswerable")
    print("by kind:   " + ", ".join(f"{k}={kinds[k]}" for k in sorted(kinds)))
    print("by source: " + ", ".join(f"{s}={n}" for s, n in sorted(sources.items())))
    for line in failures:
        print(line)
    print(f"{len(failures)} failure(s)" if failures else "all gold answers found verbatim on their gold pages")
    return 1 if failures else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    ap.add_argument("--docs", type=Path, default=HERE / "docs")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    sys.exit(check(args.questions, args.docs, args.verbose))


if __name__ == "__main__":
    main()
