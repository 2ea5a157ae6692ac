"""The lake's files and the snapshot location behave the same on a folder and on a real S3
endpoint."""

from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource

from bitso_platform.resources.lake import Lake
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.snapshots.spec import DEPOSITS
from bitso_platform.snapshots.staging import SnapshotFileError


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake(url=str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Lake(url=f"s3://{bucket}/lake", s3=S3Resource(endpoint_url=endpoint))


def stored(lake: Lake) -> list[str]:
    """Every object or file under the lake's root, hidden ones and folder markers included."""
    if lake.s3 is None:
        root = Path(lake.url)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    bucket = lake.url.removeprefix("s3://").split("/")[0]
    listed = boto3.client("s3", endpoint_url=lake.s3.endpoint_url).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"].removeprefix("lake/") for o in listed.get("Contents", []))


def test_written_files_read_back_and_list_under_their_prefix(lake: Lake) -> None:
    files = lake.files()
    files.write("a/b=1/x.parquet", b"one")
    files.write("a/b=2/y.parquet", b"two")
    files.write("other/z", b"three")

    assert files.filesystem.open_input_stream("a/b=2/y.parquet").read() == b"two"
    assert files.paths("a/") == ["a/b=1/x.parquet", "a/b=2/y.parquet"]
    assert files.paths("missing") == []


def test_a_rewrite_replaces_the_file_and_leaves_no_staged_file_or_folder_marker(
    lake: Lake,
) -> None:
    files = lake.files()
    files.write("d/e/f", b"old")
    files.write("d/e/f", b"new")

    assert files.filesystem.open_input_stream("d/e/f").read() == b"new"
    assert stored(lake) == ["d/e/f"]


def test_uris_name_the_bucket_or_folder(lake: Lake) -> None:
    uri = lake.files().uri("a/b.csv")
    assert uri.endswith("/lake/a/b.csv")
    assert uri.startswith("s3://") == lake.url.startswith("s3://")


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
