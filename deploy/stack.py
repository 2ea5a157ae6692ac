"""The compose stack's object store: create its buckets, and run the demo through the stack.

    python deploy/stack.py buckets
        In the one-shot `s3-buckets` service: creates the missing buckets with the store's
        admin key (S3_ADMIN_ACCESS_KEY / S3_ADMIN_SECRET_KEY, endpoint BITSO_S3_ENDPOINT_URL).

    python deploy/stack.py demo [--snapshots .bitso/snapshots] [--to 2021-02-19]
        From the host, once `docker compose up -d` is healthy and `bitso generate` has written
        the demo snapshots: uploads them to s3://bitso-snapshots/latest/ through the published
        S3 port with the platform's own key (from .env), then launches `load_snapshots` and
        the `daily_marts` run over the days through the webserver, waiting for each.

Standard library, boto3 and dagster-graphql only: it runs in the platform image and in the
project's virtual environment.
"""

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3

BUCKETS = ("bitso-lake", "bitso-snapshots")
SNAPSHOTS_BUCKET, SNAPSHOTS_PREFIX = "bitso-snapshots", "latest/"
LOCATION = "bitso_platform"  # deploy/workspace.yaml
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def create_buckets(s3: Any, names: Iterable[str] = BUCKETS) -> list[str]:
    """Create the buckets that do not exist yet; the names created. Safe to re-run."""
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    created = [name for name in names if name not in existing]
    for name in created:
        s3.create_bucket(Bucket=name)
    return created


def upload_snapshots(
    s3: Any, folder: Path, bucket: str = SNAPSHOTS_BUCKET, prefix: str = SNAPSHOTS_PREFIX
) -> list[str]:
    """Put every snapshot CSV of `folder` under s3://bucket/prefix; the keys written."""
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise SystemExit(f"no snapshot CSV in {folder}: run `bitso generate --out {folder}`")
    for file in files:
        s3.upload_file(str(file), bucket, prefix + file.name)
    return [prefix + file.name for file in files]


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a compose .env file (comments and blank lines skipped)."""
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip().strip("'\"") for key, value in pairs}


def run_through_webserver(client: Any, job: str, tags: dict[str, str] | None = None) -> str:
    """Launch `job` on the stack (queued, then run by the daemon) and wait; its final status."""
    run_id = client.submit_job_execution(job, repository_location_name=LOCATION, tags=tags)
    print(f"{job}: run {run_id} launched; follow it at http://localhost:3000/runs/{run_id}")
    while (status := client.get_run_status(run_id).value) not in FINISHED:
        time.sleep(5)
    print(f"{job}: {status}")
    return status


def buckets() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["BITSO_S3_ENDPOINT_URL"],
        aws_access_key_id=os.environ["S3_ADMIN_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_ADMIN_SECRET_KEY"],
        region_name="us-east-1",
    )
    created = create_buckets(s3)
    print(f"buckets: created {', '.join(created) or 'none'}; present {', '.join(BUCKETS)}")


def demo(snapshots: Path, first_day: str, last_day: str, env_file: Path) -> None:
    from dagster_graphql import DagsterGraphQLClient  # only the demo talks to the webserver

    env = read_env_file(env_file)
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{env.get('S3_PORT') or 8333}",
        aws_access_key_id=env["S3_APP_ACCESS_KEY"],
        aws_secret_access_key=env["S3_APP_SECRET_KEY"],
        region_name="us-east-1",
    )
    keys = upload_snapshots(s3, snapshots)
    print(f"uploaded {len(keys)} files to s3://{SNAPSHOTS_BUCKET}/{SNAPSHOTS_PREFIX}")
    client = DagsterGraphQLClient("localhost", port_number=3000)
    if run_through_webserver(client, "load_snapshots") != "SUCCESS":
        sys.exit("the load failed: see the run in the UI")
    days = {
        "dagster/asset_partition_range_start": first_day,
        "dagster/asset_partition_range_end": last_day,
    }
    if run_through_webserver(client, "daily_marts", days) != "SUCCESS":
        sys.exit("the marts build failed: see the run in the UI")
    print("demo done: ask questions with `docker compose exec code bitso ask all --day", last_day)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("buckets", help="create the stack's buckets (admin key)")
    run = commands.add_parser("demo", help="seed the demo snapshots and build through the stack")
    run.add_argument("--snapshots", type=Path, default=Path(".bitso/snapshots"))
    run.add_argument("--from", dest="first_day", default="2020-01-01")
    run.add_argument("--to", dest="last_day", default="2021-02-19")
    run.add_argument("--env-file", type=Path, default=Path(".env"))
    args = parser.parse_args()
    if args.command == "buckets":
        buckets()
    else:
        demo(args.snapshots, args.first_day, args.last_day, args.env_file)


if __name__ == "__main__":
    main()
