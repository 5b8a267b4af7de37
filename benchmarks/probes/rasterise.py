"""A scanned copy of a folder of PDFs: each page drawn to a greyscale image at ``--dpi`` and saved as an
image-only PDF (no text layer), as a scanner would make it, under the same file name. With a page-question file
whose sources are those PDFs, ``rag eval`` then scores retrieval on scans against retrieval on the text layer.

    python benchmarks/probes/rasterise.py DOCS OUT --dpi 200
"""

import argparse
from pathlib import Path

import pypdfium2 as pdfium


def rasterise(pdf: Path, out: Path, dpi: int) -> int:
    document = pdfium.PdfDocument(str(pdf))
    images = [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    images[0].save(out, save_all=True, append_images=images[1:], resolution=dpi)
    return len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for pdf in sorted(args.docs.glob("*.pdf")):
        print(pdf.name, rasterise(pdf, args.out / pdf.name, args.dpi), "pages", flush=True)


if __name__ == "__main__":
    main()
