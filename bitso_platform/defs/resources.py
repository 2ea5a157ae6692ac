"""Resource instances, bound once from the validated settings (SPEC 7).

A BITSO_* variable that is set binds through `dg.EnvVar` (so the UI shows where the value
comes from and secrets stay out of run config); one that is unset binds the documented
default from `bitso_platform.settings`, which for an empty URL resolves inside the resource
(e.g. the embedded warehouse). Loading fails with the settings' error, naming the variable,
when any BITSO_* value is refused.
"""

from collections.abc import Callable
from typing import Any

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
from bitso_platform.settings import Settings, load_settings, variable


def build_resources(settings: Settings, *, env_vars: bool = True) -> dict[str, object]:
    """The code location's resources; with `env_vars=False` every value is bound as is
    (for a command that uses a resource without starting a Dagster run)."""

    def bound(field: str, value: Any, env_var: Callable[[str], Any] = dg.EnvVar) -> Any:
        return env_var(variable(field)) if env_vars and settings.is_set(field) else value

    s3 = S3Resource(endpoint_url=bound("s3_endpoint_url", settings.s3_endpoint_url) or None)
    warehouse = Warehouse(url=bound("warehouse_url", settings.warehouse_url))
    lake = Lake(url=bound("lake_url", settings.lake_url), s3=s3)
    return {
        "warehouse": warehouse,
        "snapshot_source": SnapshotSource(
            url=bound("snapshots_url", settings.snapshots_url), s3=s3
        ),
        "lake": lake,
        "load": LoadTransaction(warehouse=warehouse),
        "model": ModelSettings(login_events=bound("login_events", ",".join(settings.login_events))),
        "exchange": BitsoExchange(
            api_url=bound("api_url", settings.api_url),
            ws_url=bound("ws_url", settings.ws_url),
            books=bound("books", ",".join(settings.books)),
        ),
        "lake_io_manager": LakeIOManager(lake=lake),
        "postgres_io_manager": PostgresPandasIOManager(warehouse=warehouse),
        "alerts": SpreadAlerts(
            thresholds=bound("spread_thresholds", settings.spread_thresholds),
            quiet_seconds=bound("alert_quiet_seconds", settings.alert_quiet_seconds, dg.EnvVar.int),
            webhook_url=bound("alert_webhook_url", settings.alert_webhook_url),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(load_settings()))
