"""Where the snapshot CSVs land: a folder or an S3 prefix (BITSO_SNAPSHOTS_URL)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from bitso_platform.resources.storage import Location
from bitso_platform.settings import parse_setting, state_dir
from bitso_platform.snapshots.spec import Snapshot
from bitso_platform.snapshots.staging import SnapshotFileError


class SnapshotSource(dg.ConfigurableResource):
    """The snapshot files. An empty `url` means the demo data folder under the state folder."""

    url: str = Field(default="", description="s3://bucket/prefix or a folder (BITSO_SNAPSHOTS_URL)")
    s3: S3Resource | None = Field(default=None, description="S3 client settings")

    def location(self) -> Location:
        url = (
            parse_setting("snapshots_url", self.url) if self.url else str(state_dir() / "snapshots")
        )
        return Location.at(url, self.s3)

    def uri(self, snapshot: Snapshot) -> str:
        return self.location().uri(snapshot.file)

    def has(self, snapshot: Snapshot) -> bool:
        return self.location().exists(snapshot.file)

    @contextmanager
    def open(self, snapshot: Snapshot) -> Iterator[IO[bytes]]:
        """The snapshot's file as a stream; a clear error when a required file is missing."""
        location = self.location()
        if not location.exists(snapshot.file):
            raise SnapshotFileError(
                f"{location.uri(snapshot.file)}: missing; the {snapshot.name} snapshot is "
                f"required. Put {snapshot.file} there or point BITSO_SNAPSHOTS_URL at the "
                "folder or s3:// prefix that holds it"
            )
        with location.open(snapshot.file) as stream:
            yield stream
