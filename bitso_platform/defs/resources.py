"""Resource instances, bound once from configuration (SPEC 7).

A BITSO_* variable that is set binds through `dg.EnvVar` (so the UI shows where the value
comes from and secrets stay out of run config); one that is unset leaves the resource's
documented default, which resolves inside the resource (e.g. the embedded warehouse).
"""

import os

import dagster as dg
from dagster_aws.s3 import S3Resource

from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.lake import Lake
from bitso_platform.resources.lake_io_manager import LakeIOManager
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.model import ModelSettings
from bitso_platform.resources.postgres_io_manager import PostgresPandasIOManager
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.settings import DEFAULT_BOOKS
from bitso_platform.ticker.config import DEFAULT_API_URL, DEFAULT_WS_URL


def from_env(name: str, default: str = "") -> dg.EnvVar | str:
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else default


def int_from_env(name: str, default: int) -> dg.EnvVar | int:
    return dg.EnvVar.int(name) if os.environ.get(name, "").strip() else default


def build_resources() -> dict[str, object]:
    s3 = S3Resource(endpoint_url=from_env("BITSO_S3_ENDPOINT_URL") or None)
    return {
        "warehouse": Warehouse(url=from_env("BITSO_WAREHOUSE_URL")),
        "snapshot_source": SnapshotSource(url=from_env("BITSO_SNAPSHOTS_URL"), s3=s3),
        "lake": Lake(url=from_env("BITSO_LAKE_URL"), s3=s3),
        "load": LoadTransaction(warehouse=Warehouse(url=from_env("BITSO_WAREHOUSE_URL"))),
        "model": ModelSettings(login_events=from_env("BITSO_LOGIN_EVENTS", "login")),
        "exchange": BitsoExchange(
            api_url=from_env("BITSO_API_URL", DEFAULT_API_URL),
            ws_url=from_env("BITSO_WS_URL", DEFAULT_WS_URL),
            books=from_env("BITSO_BOOKS", ",".join(DEFAULT_BOOKS)),
        ),
        "lake_io_manager": LakeIOManager(lake=Lake(url=from_env("BITSO_LAKE_URL"), s3=s3)),
        "postgres_io_manager": PostgresPandasIOManager(
            warehouse=Warehouse(url=from_env("BITSO_WAREHOUSE_URL"))
        ),
        "alerts": SpreadAlerts(
            thresholds=from_env("BITSO_SPREAD_THRESHOLDS", "0.1,0.5,1.0"),
            quiet_seconds=int_from_env("BITSO_ALERT_QUIET_SECONDS", 60),
            webhook_url=from_env("BITSO_ALERT_WEBHOOK_URL"),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
