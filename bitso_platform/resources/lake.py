"""The data lake: a folder or an S3 prefix (BITSO_LAKE_URL) holding partitioned files."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
import pyarrow.dataset as ds
from dagster_aws.s3 import S3Resource
from pyarrow import fs
from pydantic import Field

from bitso_platform.settings import parse_setting, state_dir

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")


@dataclass(frozen=True)
class LakeFiles:
    """The lake as one pyarrow filesystem whose paths are keys under the lake's root."""

    filesystem: fs.FileSystem
    root: str  # the root as a folder path or s3:// URI, for messages and metadata
    # How a file replaces its predecessor atomically; it depends on the filesystem.
    replace: Callable[[fs.FileSystem, str, bytes], None]

    def uri(self, key: str) -> str:
        """Where `key` lives."""
        return f"{self.root}/{key}"

    def write(self, key: str, data: bytes) -> None:
        """Replace the file at `key` by `data`: readers see the old file or the new one."""
        self.replace(self.filesystem, key, data)

    def paths(self, prefix: str = "") -> list[str]:
        """Keys of the files under `prefix`, sorted (hidden staged files left out)."""
        selector = fs.FileSelector(prefix.rstrip("/"), recursive=True, allow_not_found=True)
        found = self.filesystem.get_file_info(selector)
        return sorted(f.path for f in found if f.is_file and not f.base_name.startswith("."))

    def read(self, keys: list[str], columns: list[str] | None = None) -> pd.DataFrame:
        """The Parquet and CSV files at `keys` as one frame, in key order within a format; each
        file keeps its own types (a column all null in one window is not forced on others)."""
        frames = [
            fragment.to_table(columns=columns).to_pandas()
            for file_format in FORMATS
            if (paths := [key for key in keys if key.endswith(f".{file_format}")])
            for fragment in ds.dataset(
                paths, filesystem=self.filesystem, format=file_format
            ).get_fragments()
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


class Lake(dg.ConfigurableResource):
    """Lake storage. An empty `url` means the `lake` folder under the state folder."""

    url: str = Field(default="", description="s3://bucket/prefix or a folder (BITSO_LAKE_URL)")
    s3: S3Resource | None = Field(default=None, description="S3 client settings")

    def files(self) -> LakeFiles:
        """The lake's filesystem, chosen once from the URL: S3 (with the configured endpoint
        and credentials) or the local disk."""
        url = self._url()
        if url.startswith("s3://"):
            root, s3 = url.rstrip("/"), self.s3 or S3Resource()
            s3fs = fs.S3FileSystem(  # unset settings fall back to the AWS defaults
                endpoint_override=s3.endpoint_url,
                region=s3.region_name,
                access_key=s3.aws_access_key_id,
                secret_key=s3.aws_secret_access_key,
                session_token=s3.aws_session_token,
            )
            return LakeFiles(fs.SubTreeFileSystem(root.removeprefix("s3://"), s3fs), root, _upload)
        root = str(Path(url).resolve())
        return LakeFiles(fs.SubTreeFileSystem(root, fs.LocalFileSystem()), root, _stage_and_rename)

    def _url(self) -> str:
        return parse_setting("lake_url", self.url) if self.url else str(state_dir() / "lake")


def _upload(filesystem: fs.FileSystem, key: str, data: bytes) -> None:
    """Write straight to the key: S3 shows an object only once its upload completes, and then
    in place of the previous one (docs/ticker.md says why no staged key)."""
    with filesystem.open_output_stream(key) as stream:
        stream.write(data)


def _stage_and_rename(filesystem: fs.FileSystem, key: str, data: bytes) -> None:
    """Write a hidden, uniquely named file beside the key, then rename it over the key (a
    rename is atomic on a local disk). A staged file left by a crash is hidden from readers:
    its name starts with a dot and ends in `.partial`."""
    folder, _, name = key.rpartition("/")
    staged = f"{folder}/.{name}.{uuid.uuid4().hex}.partial"
    filesystem.create_dir(folder, recursive=True)
    with filesystem.open_output_stream(staged) as stream:
        stream.write(data)
    try:
        filesystem.move(staged, key)
    except OSError:
        filesystem.delete_file(staged)
        raise
