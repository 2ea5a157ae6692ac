"""Query plans, for tests of what the indexes allow."""

from collections.abc import Iterable, Iterator

import psycopg

from bitso_platform.sql import sql_sections


def price_out(conn: psycopg.Connection, plan_types: Iterable[str]) -> None:
    """`enable_<plan type>` off on `conn` for each plan type (e.g. "seqscan", "sort"): the small
    test world would otherwise be read whole, where the large tables get another plan."""
    for plan_type in plan_types:
        conn.execute(f"set enable_{plan_type} = off")


def plan_text(conn: psycopg.Connection, query: str, params: dict, priced_out: Iterable[str]) -> str:
    """EXPLAIN of `query` as text, with each plan type of `priced_out` priced out (`price_out`):
    the plan the large tables would get."""
    price_out(conn, priced_out)
    return "\n".join(line for (line,) in conn.execute(f"explain {query}", params))


def build_insert(name: str) -> str:
    """The insert of a build: the statement of sql/<name>.sql that fills its table."""
    build = sql_sections(name).build
    return next(s for s in build.split(";\n") if s.lstrip().startswith("insert into"))


def mart_insert(table: str) -> str:
    """The insert of a mart's build: the statement of sql/marts/<table>.sql that fills the
    window."""
    return build_insert(f"marts/{table}")


def plan_nodes(plan: dict) -> Iterator[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, the plan itself first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)
