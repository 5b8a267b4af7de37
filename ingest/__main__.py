"""``python -m ingest DIR`` does what ``rag ingest DIR`` does."""

import sys

from rag.cli import main

sys.exit(main(["ingest", *sys.argv[1:]]))
