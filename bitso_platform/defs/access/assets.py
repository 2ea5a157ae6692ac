"""Team access to the warehouse: the read-only roles per team and the pipeline's writer.

Grants are per table: a mart, or `core.users` (Q2's population), is readable by its teams
only once it exists. So the asset depends on the marts and `core/users` and re-applies
itself whenever one of them is materialized (its automation condition, evaluated by the
`access_roles_automation` sensor).
"""

import dagster as dg

from bitso_platform.access import READERS, WRITER, apply_access_roles
from bitso_platform.defs.marts.assets import asset_key
from bitso_platform.defs.marts.catalog import MARTS
from bitso_platform.resources.warehouse import Warehouse

ACCESS_ROLES = dg.AssetKey(["warehouse", "access_roles"])

# Like `eager()` but without its "no dependency missing" clause: the marts are daily
# partitions back to 2020, some day is always unbuilt, and the grants matter as soon as any
# day of a mart exists.
REAPPLY_AFTER_MART_BUILDS = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated())
    .since_last_handled()
    .with_label("a granted table was rebuilt")
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


@dg.asset(
    key=ACCESS_ROLES,
    group_name="access",
    kinds={"postgres"},
    deps=[
        *(asset_key(mart) for mart in MARTS),
        dg.AssetKey(["core", "users"]),
    ],
    automation_condition=REAPPLY_AFTER_MART_BUILDS,
)
def access_roles(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One Postgres role per team (read-only on its marts) and `platform_writer`, from
    the marts' declared readers: created if missing, grants re-applied idempotently."""
    with warehouse.connection() as conn:
        granted = apply_access_roles(conn)
    missing = {
        role: sorted(set(READERS[role]) - set(tables))
        for role, tables in granted.items()
        if role in READERS and set(READERS[role]) - set(tables)
    }
    if missing:
        context.log.info("not granted yet (tables do not exist): %s", missing)
    return dg.MaterializeResult(
        metadata={
            **{
                role: dg.MetadataValue.text(", ".join(tables) or "-")
                for role, tables in granted.items()
            },
            "not_yet_created": dg.MetadataValue.json(missing),
            "writer": WRITER,
        }
    )


access_roles_automation = dg.AutomationConditionSensorDefinition(
    "access_roles_automation",
    target=dg.AssetSelection.assets(ACCESS_ROLES),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-applies the team access roles after a mart build or a snapshot load.",
)
