"""Write generated traffic: JSONL records and labels, a JSON campaign summary."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

PROGRESS_MIN = 50_000  # records; smaller files are written before a bar would draw


@contextmanager
def _open(path: str | Path) -> Any:
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(path)
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        yield fh


def _lines(fh: IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    for row in rows:
        fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        n += 1
    return n


def write_jsonl(path: str | Path, rows: Sequence[dict[str, Any]], *, desc: str = "writing",
                progress: bool | None = None) -> int:
    """One JSON object per line, in the given (arrival) order; '-' means stdout.

    The bar shows only on a terminal and for large outputs, so logs and CI stay clean.
    """
    if progress is None:
        progress = sys.stderr.isatty() and len(rows) >= PROGRESS_MIN
    with _open(path) as fh:
        bar = tqdm(rows, desc=desc, unit="rec", unit_scale=True, disable=not progress,
                   file=sys.stderr, leave=False)
        return _lines(fh, bar)


def write_json(path: str | Path, obj: Any) -> None:
    with _open(path) as fh:
        fh.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
