"""Stage a snapshot file's lines, numbered, into DuckDB, and check what fails a whole file.

The file is streamed in chunks (memory does not grow with its size); lines are split
with Arrow compute, not a Python loop. Only lines holding a double quote, rare in
snapshots, go through Python's csv module to find their field values.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitso_platform.snapshots.spec import Snapshot

BOM = codecs.BOM_UTF8
CHUNK_BYTES = 8 << 20

STAGING_DDL = """
create or replace table lines (
    line_no bigint,        -- physical line in the file, the header being line 1
    line varchar           -- raw text, without BOM and without the CR of a CRLF line end
);
create or replace table quoted (
    line_no bigint,
    key varchar,           -- canonical text: `"a",b` and `a,b` have the same field values
    fields varchar[],      -- null when the quoting is malformed
    quote_error boolean
);
"""


class SnapshotFileError(Exception):
    """A whole-file problem (missing, wrong header, not UTF-8): the load fails, nothing changes."""


def stage_lines(
    db: duckdb.DuckDBPyConnection, stream: BinaryIO, *, snapshot: Snapshot, source: str
) -> int:
    """Check the header, stage every following line (tables `lines`, `quoted`); rows_read.

    Splitting a block (Arrow, without the GIL) overlaps with inserting the previous one
    (DuckDB, on a worker thread); at most two blocks are in memory at once.
    """
    db.execute(STAGING_DDL)
    chunks = _chunks(stream)
    rest = _check_header(chunks, snapshot=snapshot, source=source)
    rows_read = 0
    writer = db.cursor()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage") as pool:
        pending: Future | None = None
        for block in _line_blocks(rest, chunks):
            lines, quoted = _lines_batch(block, first_line=rows_read + 2, source=source)
            rows_read += lines.num_rows
            if pending is not None:
                pending.result()
            pending = pool.submit(_append, writer, lines, quoted)
        if pending is not None:
            pending.result()
    return rows_read


def _append(db: duckdb.DuckDBPyConnection, lines: pa.Table, quoted: pa.Table | None) -> None:
    db.register("arrow_lines", lines)
    db.execute("insert into lines select * from arrow_lines")
    db.unregister("arrow_lines")
    if quoted is not None:
        db.register("arrow_quoted", quoted)
        db.execute("insert into quoted select * from arrow_quoted")
        db.unregister("arrow_quoted")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _check_header(chunks: Iterator[bytes], *, snapshot: Snapshot, source: str) -> bytes:
    """Check the header line; return the bytes read past it."""
    data = b""
    while b"\n" not in data:
        chunk = next(chunks, b"")
        if not chunk:
            break
        data += chunk
    if data.startswith(BOM):
        data = data[len(BOM) :]
    head, _, rest = data.partition(b"\n")
    try:
        text = head.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise SnapshotFileError(
            f"{source}: line 1 (header) is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
            "re-export the file as UTF-8"
        ) from None
    found = [name.strip() for name in next(csv.reader([text]), [])]
    if found != snapshot.header:
        raise SnapshotFileError(
            f"{source}: wrong header {','.join(found) or '(empty file)'!r}; "
            f"the {snapshot.name} snapshot must start with {','.join(snapshot.header)!r}"
        )
    return rest


def _line_blocks(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines joined by newlines; b"" is one empty line."""
    carry = first
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield _drop_cr(data[:cut])
    if carry:  # the end of the file: its final newline makes no row
        yield _drop_cr(carry.removesuffix(b"\n"))


def _drop_cr(block: bytes) -> bytes:
    """Drop one carriage return before each line end (CRLF files)."""
    if b"\r" not in block:
        return block
    return block.replace(b"\r\n", b"\n").removesuffix(b"\r")


def _decoded(block: bytes, *, first_line: int, source: str) -> pa.Array:
    """The block as one Arrow string; fails the file on bytes that are not UTF-8 text."""
    nul = block.find(b"\x00")
    if nul >= 0:
        line = first_line + block.count(b"\n", 0, nul)
        raise SnapshotFileError(
            f"{source}: line {line} holds a NUL byte; snapshot files must be UTF-8 text"
        )
    try:
        return pa.array([block], pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        pass
    try:  # Arrow only says the text is invalid; Python says where
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + block.count(b"\n", 0, exc.start)
        raise SnapshotFileError(
            f"{source}: line {line} is not valid UTF-8 (byte 0x{block[exc.start]:02x}: "
            f"{exc.reason}); re-export the file as UTF-8"
        ) from None
    raise AssertionError("Arrow rejected text that Python decodes")  # pragma: no cover


def _lines_batch(block: bytes, *, first_line: int, source: str) -> tuple[pa.Table, pa.Table | None]:
    """The block's numbered lines, and the field values of its quoted lines (or None)."""
    text = _decoded(block, first_line=first_line, source=source)
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    table = pa.table({"line_no": numbers, "line": lines})
    quoted = pc.indices_nonzero(pc.match_substring(lines, '"')).to_pylist()
    if not quoted:
        return table, None
    parsed = [_parse_quoted(lines[i].as_py()) for i in quoted]
    return table, pa.table(
        {
            "line_no": pa.array([first_line + i for i in quoted], pa.int64()),
            "key": pa.array([key for key, _, _ in parsed], pa.string()),
            "fields": pa.array([fields for _, fields, _ in parsed], pa.list_(pa.string())),
            "quote_error": pa.array([error for _, _, error in parsed], pa.bool_()),
        }
    )


def _parse_quoted(line: str) -> tuple[str, list[str] | None, bool]:
    """Fields of a quoted line and its canonical text (minimal quoting: `"a",b` -> `a,b`)."""
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return line, None, True
    if len(rows) != 1:
        return line, None, True
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(rows[0])
    return out.getvalue(), rows[0], False
