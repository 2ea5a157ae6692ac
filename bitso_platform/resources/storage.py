"""A place files are read from: a local folder or an S3 prefix (`s3://bucket/prefix`)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dagster_aws.s3 import S3Resource


@dataclass(frozen=True)
class Location:
    """Files under a folder or an S3 prefix, addressed by relative keys like `a/b.csv`."""

    url: str
    s3_client: Any = None  # a boto3 S3 client, needed for s3:// URLs

    @classmethod
    def at(cls, url: str, s3: S3Resource | None = None) -> "Location":
        """The location of `url`, with an S3 client from `s3` (or the AWS defaults) if needed."""
        client = (s3 or S3Resource()).get_client() if url.startswith("s3://") else None
        return cls(url, client)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def bucket(self) -> str:
        return self.url.removeprefix("s3://").partition("/")[0]

    def _s3_key(self, key: str) -> str:
        prefix = self.url.removeprefix("s3://").partition("/")[2].strip("/")
        return f"{prefix}/{key}" if prefix else key

    def uri(self, key: str) -> str:
        """Where `key` lives, for messages and metadata."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self._s3_key(key)}"
        return str(Path(self.url).resolve() / key)

    def exists(self, key: str) -> bool:
        if not self.is_s3:
            return (Path(self.url) / key).is_file()
        found = self.s3_client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._s3_key(key), MaxKeys=1
        )
        return any(o["Key"] == self._s3_key(key) for o in found.get("Contents", []))

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        """A binary stream of the file, read as it is consumed (never loaded whole)."""
        if not self.is_s3:
            with open(Path(self.url) / key, "rb") as stream:
                yield stream
            return
        body = self.s3_client.get_object(Bucket=self.bucket, Key=self._s3_key(key))["Body"]
        try:
            yield body
        finally:
            body.close()
