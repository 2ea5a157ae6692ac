"""Locations behave the same on a folder and on a real S3 endpoint."""

from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource

from bitso_platform.resources.lake import Lake
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.resources.storage import Location
from bitso_platform.snapshots.spec import DEPOSITS
from bitso_platform.snapshots.staging import SnapshotFileError


@pytest.fixture(params=["folder", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "folder":
        return Lake(url=str(tmp_path / "lake")).location()
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Lake(url=f"s3://{bucket}/lake", s3=S3Resource(endpoint_url=endpoint)).location()


def test_written_files_read_back_and_list_under_their_prefix(location: Location) -> None:
    location.write("a/b=1/x.parquet", b"one")
    location.write("a/b=2/y.parquet", b"two")
    location.write("other/z", b"three")
    with location.open("a/b=2/y.parquet") as stream:
        assert stream.read() == b"two"
    assert location.keys("a/") == ["a/b=1/x.parquet", "a/b=2/y.parquet"]
    assert location.exists("other/z") and not location.exists("other/none")


def test_a_rewrite_replaces_the_file(location: Location) -> None:
    location.write("f", b"old")
    location.write("f", b"new")
    with location.open("f") as stream:
        assert stream.read() == b"new"
    assert location.keys() == ["f"]


def test_uris_name_the_bucket_or_folder(location: Location) -> None:
    uri = location.uri("a/b.csv")
    assert uri.endswith("/lake/a/b.csv")
    assert uri.startswith("s3://") == location.is_s3


def test_a_missing_required_snapshot_names_the_file_and_the_setting(
    s3_endpoint: str, s3_bucket: str
) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=s3_bucket, Key="drop/other.csv", Body=b"x"
    )
    source = SnapshotSource(url=f"s3://{s3_bucket}/drop", s3=S3Resource(endpoint_url=s3_endpoint))
    with (
        pytest.raises(
            SnapshotFileError, match=r"drop/deposit_sample_data\.csv: missing.*BITSO_SNAPSHOTS_URL"
        ),
        source.open(DEPOSITS),
    ):
        pass
