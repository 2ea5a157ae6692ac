"""An IO manager that writes DataFrames to the lake as Hive-partitioned Parquet (or CSV) files.

Paths come from one function, `hive_key`: the asset key without its `lake` prefix, then one
`column=value` folder per `split_by` column (definition metadata), then the partition's time
as `date=YYYY-MM-DD/hour=HH/minute=MM` (coarser for coarser partitions), then `part.parquet`:

    ticker_spread/book=btc_mxn/date=2024-07-16/hour=22/minute=20/part.parquet

so a query engine prunes by book and time from the path alone. A run covering a range of
partitions (a single-run backfill) splits the frame by the `partition_expr` column into one
file per partition and split value.

Storage is one pyarrow filesystem chosen once by the `Lake` resource (S3 or local disk).
Failure safety: every file of the run is encoded in memory before the first is written, so a
frame that cannot be encoded changes nothing; each file then replaces its predecessor
atomically (`LakeFiles.write`), so readers see the old file or the new one, never a partial
one. A failure between two files leaves the earlier ones new and the later ones old;
re-running the run rewrites them all. Reads go through `pyarrow.dataset`.

Format: Parquet by default; CSV when the IO manager's `format` is `csv`, or per asset or per
output with metadata `{"format": "csv"}` (output metadata wins over definition metadata,
which wins over the IO manager's setting).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs
from pydantic import Field

from bitso_platform.metadata import markdown_table
from bitso_platform.resources.lake import FORMATS, Format, Lake, LakeFiles

PREVIEW_ROWS = 5
MAX_LISTED_FILES = 50


@dataclass(frozen=True)
class LakeFile:
    """One file of a run: where it goes, what it holds, its encoded bytes."""

    key: str
    partition: str | None
    rows: int
    data: bytes


class LakeIOManager(dg.ConfigurableIOManager):
    """DataFrames as Hive-partitioned files in the lake (BITSO_LAKE_URL: folder or S3)."""

    lake: Lake = Field(description="Where the files go")
    format: str = Field(default="parquet", description="parquet or csv, unless metadata says")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        """Write one file per partition of the run and per `split_by` value."""
        lake = self.lake.files()
        file_format = self._format(context)
        split_by = _split_by(context)
        files = list(_encode(_files(context, obj, split_by, file_format)))
        for file in files:
            lake.write(file.key, file.data)
        context.add_output_metadata(_metadata(context, lake, files, obj))

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The upstream partitions' files (every split value), in path order, as one frame.

        Only the split folders are listed (one listing per split level); each partition's
        file is then addressed directly, so a load costs the same however many windows the
        lake holds.
        """
        lake = self.lake.files()
        upstream = context.upstream_output
        split_by = _split_by(upstream) if upstream is not None else ()
        bases = _split_folders(lake.filesystem, dataset_root(context.asset_key), len(split_by))
        partitions = [partition_folder(key, w) for key, w in partition_windows(context)]
        folders = [f"{base}/{p}" for base in bases for p in partitions] or bases
        candidates = [f"{folder}/part.{f}" for folder in folders for f in FORMATS]
        found = [info.path for info in lake.filesystem.get_file_info(candidates) if info.is_file]
        return lake.read(found)

    def _format(self, context: dg.OutputContext) -> Format:
        chosen = (
            _text(context.output_metadata.get("format"))
            or _text((context.definition_metadata or {}).get("format"))
            or self.format
        ).lower()
        if chosen not in FORMATS:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: lake format {chosen!r} is not one of "
                f"{', '.join(FORMATS)}; fix the `format` metadata or IO manager setting"
            )
        return chosen  # type: ignore[return-value]


def dataset_root(asset_key: dg.AssetKey) -> str:
    """The folder of an asset's files: its key without the `lake` prefix."""
    path = asset_key.path[1:] if asset_key.path[0] == "lake" and len(asset_key.path) > 1 else []
    return "/".join(path or asset_key.path)


def time_folders(window: dg.TimeWindow) -> str:
    """`date=…/hour=…/minute=…` of a window's start, as coarse as its length allows."""
    start, length = window.start, window.end - window.start
    folders = f"date={start:%Y-%m-%d}"
    if length < timedelta(days=1) or start.hour or start.minute:
        folders += f"/hour={start:%H}"
    if length < timedelta(hours=1) or start.minute:
        folders += f"/minute={start:%M}"
    return folders


def hive_key(
    asset_key: dg.AssetKey,
    *,
    split: Sequence[tuple[str, Any]] = (),
    partition: str | None = None,
    file_format: Format = "parquet",
) -> str:
    """The lake key of one file: dataset root, split folders, partition folders, file name."""
    parts = [dataset_root(asset_key), *(f"{column}={value}" for column, value in split)]
    if partition is not None:
        parts.append(partition)
    parts.append(f"part.{file_format}")
    return "/".join(parts)


def partition_windows(
    context: dg.OutputContext | dg.InputContext,
) -> list[tuple[str, dg.TimeWindow | None]]:
    """Each partition of the run with its time window (None for non-time partitions)."""
    if not context.has_asset_partitions:
        return []
    definition = context.asset_partitions_def
    windows = []
    for key in context.asset_partition_keys:
        window = (
            definition.time_window_for_partition_key(key)
            if isinstance(definition, dg.TimeWindowPartitionsDefinition)
            else None
        )
        windows.append((key, window))
    return windows


def partition_folder(key: str, window: dg.TimeWindow | None) -> str:
    """Folders of one partition: its time for time windows, `partition=KEY` otherwise."""
    return time_folders(window) if window is not None else f"partition={key}"


def rows_of_partition(
    frame: pd.DataFrame, window: dg.TimeWindow | None, partition_expr: str | None
) -> pd.DataFrame:
    """The rows of `frame` inside `window` (all of them without a window or column)."""
    if window is None or partition_expr is None:
        return frame
    times = pd.to_datetime(frame[partition_expr], utc=True, format="ISO8601")
    return frame[(times >= window.start) & (times < window.end)]


def _files(
    context: dg.OutputContext, frame: pd.DataFrame, split_by: Sequence[str], file_format: Format
) -> Iterator[tuple[str, str | None, pd.DataFrame]]:
    """(key, partition, rows) of every file of the run."""
    windows = partition_windows(context)
    partition_expr = _partition_expr(context, frame, windows)
    if len(windows) > 1 and not all(window for _, window in windows):
        raise ValueError(
            f"{context.asset_key.to_user_string()}: a run over several partitions needs "
            "time-window partitions to split the frame into files"
        )
    if any(window for _, window in windows):
        covered = sum(len(rows_of_partition(frame, w, partition_expr)) for _, w in windows)
        if covered != len(frame):
            raise ValueError(
                f"{context.asset_key.to_user_string()}: {len(frame) - covered} rows have "
                f"{partition_expr} outside the run's partitions; fix the asset's filter"
            )
    for partition, window in windows or [(None, None)]:
        rows = rows_of_partition(frame, window, partition_expr)
        folder = partition_folder(partition, window) if partition is not None else None
        for split, group in _split(rows, split_by):
            key = hive_key(
                context.asset_key, split=split, partition=folder, file_format=file_format
            )
            yield key, partition, group


def _split(
    frame: pd.DataFrame, split_by: Sequence[str]
) -> Iterator[tuple[list[tuple[str, Any]], pd.DataFrame]]:
    if not split_by:
        yield [], frame
        return
    for values, group in frame.groupby(list(split_by), sort=True):
        yield list(zip(split_by, values, strict=True)), group


def _encode(files: Iterator[tuple[str, str | None, pd.DataFrame]]) -> Iterator[LakeFile]:
    for key, partition, rows in files:
        data = _parquet(rows) if key.endswith(".parquet") else _csv(rows)
        yield LakeFile(key, partition, len(rows), data)


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _split_folders(filesystem: fs.FileSystem, root: str, levels: int) -> list[str]:
    """`root` followed by every existing combination of `levels` split folders, sorted."""
    folders = [root]
    for _ in range(levels):
        folders = sorted(
            info.path
            for folder in folders
            for info in filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
            if info.type == fs.FileType.Directory and "=" in info.base_name
        )
    return folders


def _split_by(context: dg.OutputContext) -> tuple[str, ...]:
    """The columns whose values prefix the path (definition metadata `split_by`)."""
    value = (context.definition_metadata or {}).get("split_by") or ()
    return (value,) if isinstance(value, str) else tuple(value)


def _partition_expr(
    context: dg.OutputContext,
    frame: pd.DataFrame,
    windows: list[tuple[str, dg.TimeWindow | None]],
) -> str | None:
    if not any(window for _, window in windows):
        return None
    column = (context.definition_metadata or {}).get("partition_expr")
    if len(windows) > 1 and not column:
        raise ValueError(
            f"{context.asset_key.to_user_string()}: a run over several partitions needs "
            "metadata={'partition_expr': '<time column>'} to split the frame into files"
        )
    if column and column not in frame.columns:
        raise ValueError(
            f"{context.asset_key.to_user_string()}: partition_expr {column!r} is not a column"
        )
    return column


def _text(value: object) -> str:
    if isinstance(value, dg.TextMetadataValue):
        return value.value
    return value if isinstance(value, str) else ""


def _metadata(
    context: dg.OutputContext,
    lake: LakeFiles,
    files: list[LakeFile],
    frame: pd.DataFrame,
) -> dict[str, Any]:
    rows_per_partition: dict[str | None, int] = {}
    for file in files:
        rows_per_partition[file.partition] = rows_per_partition.get(file.partition, 0) + file.rows
    listed = "\n".join(f"- `{lake.uri(file.key)}`" for file in files[:MAX_LISTED_FILES])
    if len(files) > MAX_LISTED_FILES:
        listed += f"\n- … and {len(files) - MAX_LISTED_FILES} more"
    metadata: dict[str, Any] = {
        "path": dg.MetadataValue.path(lake.uri(dataset_root(context.asset_key))),
        "files_written": len(files),
        "bytes_written": sum(len(file.data) for file in files),
        "files": dg.MetadataValue.md(listed or "(no files)"),
        "preview": dg.MetadataValue.md(
            markdown_table(
                list(frame.head(PREVIEW_ROWS).itertuples(index=False, name=None)),
                tuple(frame.columns),
            )
        ),
    }
    metadata.update(row_count_metadata(rows_per_partition))
    return metadata


def row_count_metadata(rows_per_partition: dict[str | None, int]) -> dict[str, Any]:
    """`dagster/row_count` when it is true of every partition of the run.

    Dagster attaches a run's output metadata to each partition of a range, so a count is only
    reported as the partition's own when every partition of the run holds that many rows;
    otherwise the run total and a table per partition are reported instead.
    """
    counts = set(rows_per_partition.values())
    if len(counts) <= 1:
        return {"dagster/row_count": counts.pop() if counts else 0}
    table = markdown_table(sorted(rows_per_partition.items()), ("partition", "rows"))  # type: ignore[arg-type]
    return {
        "rows_in_run": sum(rows_per_partition.values()),
        "rows_per_partition": dg.MetadataValue.md(table),
    }
