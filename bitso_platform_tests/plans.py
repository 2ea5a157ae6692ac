"""Query plans, for tests of what the indexes allow."""

from collections.abc import Iterable, Iterator

import psycopg

from bitso_platform.sql import sql_sections


def plan_text(conn: psycopg.Connection, query: str, params: dict, priced_out: Iterable[str]) -> str:
    """EXPLAIN of `query` as text, with `enable_<plan type>` off on `conn` for each plan type
    priced out (e.g. "seqscan", "sort"): the plan the large tables would get."""
    for plan_type in priced_out:
        conn.execute(f"set enable_{plan_type} = off")
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
