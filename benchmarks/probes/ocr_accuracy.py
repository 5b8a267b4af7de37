"""How well OCR reads a scan whose truth is known: each page of text PDFs drawn to an image (as a scanner would
make it), read by the product's OCR, and compared with the PDF's own text layer.

Image objects are taken off each page before it is drawn: text inside a figure is in no text layer, so its truth
is unknown. The comparison is line by line, so reading order cannot count as errors: each recognised line is compared with
the text layer inside that line's box; text of the page that lies in no recognised line counts as missed.

    CER = (sum of edit distances per line + characters missed) / characters of the text layer

Text a reader cannot see (white, or drawn invisible: the Federal Register hides a typesetting line on each page)
is no part of the truth. ``cer`` counts the text printed upright; ``cer_with_turned_text`` also counts text turned along a margin (the
Federal Register prints a print-shop stamp sideways on every page), which OCR does not read.

Whitespace is collapsed, curly quotes made straight (and a quote typeset as two apostrophes, as the Federal
Register does, one double quote) and a run of leader dots one dot, on both sides; nothing else is forgiven.

    python benchmarks/probes/ocr_accuracy.py ../shared/data/public_pdfs/*.pdf --dpi 150 200 300 \
        --out benchmarks/results/ocr-accuracy.json
"""

import argparse
import ctypes
import json
import re
import time
import unicodedata
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.ocr import Ocr
from rag.core.config import load_config
from rag.eval.meta import run_meta

_SAME = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\ufffe": "-", "\u00ad": "-"})


_LEADER = re.compile(r"(?:\.\s*){3,}")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_SAME).replace("''", '"')
    return " ".join(_LEADER.sub(". ", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time; the insertion chain along a row is a running minimum."""
    if not a or not b:
        return max(len(a), len(b))
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    codes = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    for i, code in enumerate(codes, 1):
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + (bs != code))
        row = np.minimum.accumulate(best - steps) + steps
    return int(row[-1])


def _chars(text: str) -> int:
    return len(_norm(text).replace(" ", ""))


def _visible(textpage: "pdfium.PdfTextPage") -> tuple[str, str]:
    """The text layer's characters a reader sees (not white on white, not drawn invisible), and of them those
    printed upright, not turned along a margin."""
    raw = textpage.raw
    seen, upright = [], []
    rgba = [ctypes.c_uint() for _ in range(4)]
    for i in range(textpage.count_chars()):
        ch = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
        pdfium_c.FPDFText_GetFillColor(raw, i, *rgba)
        white = min(v.value for v in rgba[:3]) >= 250
        if white or pdfium_c.FPDFTextObj_GetTextRenderMode(pdfium_c.FPDFText_GetTextObject(raw, i)) == 3:
            continue
        seen.append(ch)
        if abs(pdfium_c.FPDFText_GetCharAngle(raw, i)) < 0.01:
            upright.append(ch)
    return "".join(seen), "".join(upright)


def page_errors(page: "pdfium.PdfPage", ocr: Ocr) -> tuple[int, int, int, int, float]:
    """For one page drawn at ``ocr.dpi``: edit distance summed over the recognised lines, characters of the text
    layer inside them, visible characters of the text layer, of them printed upright, seconds spent reading."""
    width, height = page.get_size()
    for obj in list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=1)):
        page.remove_obj(obj)
    page.gen_content()
    image = page.render(scale=ocr.dpi / 72, grayscale=True).to_pil()
    started = time.perf_counter()
    read = ocr.read(image)
    seconds = time.perf_counter() - started
    textpage = page.get_textpage()
    errors, covered = 0, 0
    for line in read.lines:
        # boxes are fractions from the top left; PDF space counts up from the bottom left
        truth = _norm(textpage.get_text_bounded(line.x0 * width, (1 - line.y1) * height, line.x1 * width, (1 - line.y0) * height))
        errors += edit_distance(_norm(read.text[line.start : line.end]), truth)
        covered += _chars(truth)
    seen, upright = _visible(textpage)
    return errors, covered, _chars(seen), _chars(upright), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="+", type=Path)
    parser.add_argument("--dpi", nargs="+", type=int, default=[200])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for dpi in args.dpi:
        ocr = Ocr(dpi=dpi)
        for path in args.pdfs:
            pdf = pdfium.PdfDocument(str(path))
            errors = missed_upright = missed = up_total = all_total = 0
            seconds = 0.0
            for n in range(len(pdf)):
                e, covered, chars, up, s = page_errors(pdf[n], ocr)
                errors, seconds = errors + e, seconds + s
                missed_upright += max(0, up - covered)  # text in no recognised line was not read
                missed += max(0, chars - covered)
                up_total, all_total = up_total + up, all_total + chars
            row = {"pdf": path.name, "dpi": dpi, "pages": len(pdf), "chars": all_total, "upright_chars": up_total,
                   "cer": round((errors + missed_upright) / max(1, up_total), 4),
                   "cer_with_turned_text": round((errors + missed) / max(1, all_total), 4),
                   "pages_per_minute": round(60 * len(pdf) / seconds, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    if args.out:
        meta = run_meta(load_config(None, {}, environ={}), program="benchmarks/probes/ocr_accuracy.py")
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
