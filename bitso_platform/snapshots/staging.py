"""Read a snapshot file as numbered blocks of lines, and check what fails a whole file.

The file is streamed in chunks (memory does not grow with its size); lines are split with
Arrow compute, not a Python loop. Only lines holding a double quote, rare in snapshots, go
through Python's csv module to find their field values. Every block remembers where it
came from, so the few lines needed again at the end of a load (copies across blocks, rule
7's conflicting rows) are read back from the file rather than kept.
"""

import codecs
import csv
import io
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import chain
from queue import Full, Queue
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitso_platform.snapshots.spec import Snapshot

BOM = codecs.BOM_UTF8
CHUNK_BYTES = 2 << 20
MAX_LINE_BYTES = 1 << 20  # longer lines are quarantined as oversized_row, never held whole
PREFIX_BYTES = 200  # of an oversized line, kept as its raw text in the quarantine
NEWLINE = ord("\n")
WHITESPACE = " \t\x0b\x0c\r"  # what trimming removes (as the `strip` macro of validation)
NUL_STAND_IN = b"\x01"  # a NUL as stored: Postgres text cannot hold U+0000

# The columns of a block. `content` is the canonical text of a quoted line (`"a",b` and
# `a,b` have the same field values, so the same content) and null for the others, whose
# content is the line itself; `fields` and `quote_error` are likewise set on quoted lines.
BLOCK_SCHEMA = pa.schema(
    [
        ("line_no", pa.int64()),  # physical line in the file, the header being line 1
        ("line", pa.string()),  # raw text, without BOM and without the CR of a CRLF line end
        ("content", pa.string()),
        ("fields", pa.list_(pa.string())),  # null when the quoting is malformed
        ("quote_error", pa.bool_()),
    ]
)


class SnapshotFileError(Exception):
    """A whole-file problem (missing, wrong header, not UTF-8): the load fails, nothing changes."""


@dataclass(frozen=True)
class Span:
    """Where a block's lines are in the file: enough to read any of them back."""

    offset: int
    size: int
    first_line: int
    line_count: int

    def holds(self, line_no: int) -> bool:
        return self.first_line <= line_no < self.first_line + self.line_count


@dataclass(frozen=True)
class Oversized:
    """A line longer than the limit: its number and first bytes, nothing more is read."""

    line_no: int
    head: str


@dataclass(frozen=True)
class Block:
    """Whole lines of the file (`lines`, in BLOCK_SCHEMA) and where they came from."""

    span: Span
    lines: pa.Table


def read_blocks(
    stream: BinaryIO, *, snapshot: Snapshot, source: str, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Block | Oversized]:
    """Check the header, then yield every following line, numbered, in blocks; in its place,
    each line longer than `max_line_bytes` as an `Oversized`.

    A worker thread reads and splits the next block (Arrow works without the GIL) while the
    caller works on this one; one block waits (the loader judges two at once).
    """
    return _read_ahead(
        _blocks(stream, snapshot=snapshot, source=source, max_line_bytes=max_line_bytes)
    )


def _read_ahead(blocks: Iterator[Block | Oversized], depth: int = 1) -> Iterator[Block | Oversized]:
    """`blocks`, produced on a worker thread up to `depth` ahead; its errors raise here."""
    queue: Queue[Block | Oversized | BaseException | None] = Queue(depth)
    stop = threading.Event()

    def put(item: Block | Oversized | BaseException | None) -> bool:
        """Wait for room unless the consumer has gone; whether the item was queued."""
        while not stop.is_set():
            with suppress(Full):
                queue.put(item, timeout=0.1)
                return True
        return False

    def produce() -> None:
        try:
            for block in blocks:
                if not put(block):
                    return
            put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)

    worker = threading.Thread(target=produce, name="snapshot-reader", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _blocks(
    stream: BinaryIO, *, snapshot: Snapshot, source: str, max_line_bytes: int
) -> Iterator[Block | Oversized]:
    chunks = _chunks(stream)
    offset, rest = _check_header(chunks, snapshot=snapshot, source=source)
    next_line = 2
    for piece in _pieces(offset, chain([rest], chunks), max_line_bytes):
        if isinstance(piece, _Skipped):
            yield Oversized(next_line, _prefix(piece.head))
            next_line += 1
            continue
        start, raw = piece
        lines = _lines_table(_storable(raw), first_line=next_line, source=source)
        yield Block(Span(start, len(raw), next_line, lines.num_rows), lines)
        next_line += lines.num_rows


def reread_lines(stream: BinaryIO, spans: list[Span], line_nos: set[int]) -> dict[int, str]:
    """The raw text of `line_nos`, read back from a seekable `stream` by their blocks' spans."""
    found: dict[int, str] = {}
    for span in spans:
        wanted = sorted(n for n in line_nos if span.holds(n))
        if not wanted:
            continue
        stream.seek(span.offset)
        lines = _storable(stream.read(span.size)).decode("utf-8").split("\n")
        found.update((n, lines[n - span.first_line]) for n in wanted)
    return found


@contextmanager
def seekable(stream: BinaryIO) -> Iterator[BinaryIO]:
    """`stream` itself when it can seek; else a temporary local copy of it (S3 bodies)."""
    if stream.seekable():
        yield stream
        return
    with tempfile.TemporaryFile(prefix="bitso-snapshot-") as copy:
        shutil.copyfileobj(stream, copy, CHUNK_BYTES)
        copy.seek(0)
        yield copy


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _check_header(chunks: Iterator[bytes], *, snapshot: Snapshot, source: str) -> tuple[int, bytes]:
    """Check the header line; return the offset past it and the bytes read past it."""
    data = b""
    while b"\n" not in data:
        chunk = next(chunks, b"")
        if not chunk:
            break
        data += chunk
    bom = len(BOM) if data.startswith(BOM) else 0
    head, _, rest = data[bom:].partition(b"\n")
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
    return len(data) - len(rest), rest


@dataclass(frozen=True)
class _Skipped:
    """A line longer than the limit, of which only the first bytes were kept."""

    head: bytes


def _pieces(
    offset: int, chunks: Iterator[bytes], limit: int
) -> Iterator[tuple[int, bytes] | _Skipped]:
    """(offset in the file, bytes) of blocks of whole lines joined by newlines, CRs kept, and
    in their place in the file each line longer than `limit` bytes, skipped to its end
    without being held: memory stays within a chunk and `limit`.

    b"" is one empty line; the file's final newline makes no line.
    """
    carry, skipping = b"", None
    for chunk in chunks:
        if skipping is not None:  # inside a long line: drop bytes up to its end
            end = chunk.find(b"\n")
            offset += len(chunk) if end < 0 else end + 1
            if end < 0:
                continue
            yield skipping
            skipping, chunk = None, chunk[end + 1 :]
        data = carry + chunk
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == NEWLINE)
        starts = np.concatenate(([0], ends + 1))
        done = 0  # start of the lines not yielded yet
        for long in np.flatnonzero(ends - starts[:-1] > limit):
            if starts[long] > done:
                yield offset + done, data[done : starts[long] - 1]
            yield _Skipped(data[starts[long] : starts[long] + PREFIX_BYTES])
            done = int(ends[long]) + 1
        last = int(starts[-1])  # start of the unfinished line
        if last > done:
            yield offset + done, data[done : last - 1]
        carry = data[last:]
        offset += last
        if len(carry) > limit:
            skipping, carry = _Skipped(carry[:PREFIX_BYTES]), b""
            offset += len(data) - last
    if skipping is not None:
        yield skipping
    elif carry:
        yield offset, carry.removesuffix(b"\n")


def _prefix(head: bytes) -> str:
    """What the quarantine keeps of a long line: its first bytes, as text."""
    return head.decode("utf-8", errors="replace") + "…"


def _storable(block: bytes) -> bytes:
    """The block as lines Postgres can store: one carriage return before each line end is
    dropped (CRLF files), and a NUL, which text columns cannot hold, becomes U+0001, another
    control character, so its row is still `malformed_row` and the quarantine keeps it."""
    if b"\x00" in block:
        block = block.replace(b"\x00", NUL_STAND_IN)
    if b"\r" not in block:
        return block
    return block.replace(b"\r\n", b"\n").removesuffix(b"\r")


def _decoded(block: bytes, *, first_line: int, source: str) -> pa.Array:
    """The block as one Arrow string over the same bytes (no copy); fails the file on bytes
    that are not UTF-8 text."""
    if not block.isascii():  # ASCII is UTF-8; anything else is checked by Python's decoder
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = first_line + block.count(b"\n", 0, exc.start)
            raise SnapshotFileError(
                f"{source}: line {line} is not valid UTF-8 (byte 0x{block[exc.start]:02x}: "
                f"{exc.reason}); re-export the file as UTF-8"
            ) from None
    offsets = pa.py_buffer(np.array([0, len(block)], np.int32))
    return pa.StringArray.from_buffers(1, offsets, pa.py_buffer(block))


def _lines_table(block: bytes, *, first_line: int, source: str) -> pa.Table:
    """The block's numbered lines (BLOCK_SCHEMA), quoted ones with their field values."""
    text = _decoded(block, first_line=first_line, source=source)
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    count = len(lines)
    columns = {
        "line_no": pa.array(np.arange(first_line, first_line + count, dtype=np.int64)),
        "line": lines,
        "content": pa.nulls(count, pa.string()),
        "fields": pa.nulls(count, pa.list_(pa.string())),
        "quote_error": pa.nulls(count, pa.bool_()),
    }
    if b'"' in block:  # rare: most blocks skip looking for quotes line by line
        _parse_quoted_lines(lines, columns)
    return pa.table(columns, schema=BLOCK_SCHEMA)


def _parse_quoted_lines(lines: pa.Array, columns: dict[str, pa.Array]) -> None:
    """Set `content`, `fields` and `quote_error` of the lines holding a double quote."""
    quoted = pc.indices_nonzero(pc.match_substring(lines, '"')).to_numpy()
    parsed = zip(*(_parse_quoted(lines[i].as_py()) for i in quoted), strict=True)
    for name, values in zip(("content", "fields", "quote_error"), parsed, strict=True):
        dense = [None] * len(lines)
        for i, value in zip(quoted, values, strict=True):
            dense[i] = value
        columns[name] = pa.array(dense, BLOCK_SCHEMA.field(name).type)


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


def field_content(line: str) -> str:
    """What copies of a line have in common: its text, canonical for a quoted line."""
    return _parse_quoted(line)[0] if '"' in line else line


def field_values(line: str) -> list[str] | None:
    """The field values of a line (None when its quoting is malformed)."""
    return _parse_quoted(line)[1] if '"' in line else line.split(",")
