"""Query plans, for tests of what the indexes allow."""

from collections.abc import Iterable

import psycopg


def plan_text(conn: psycopg.Connection, query: str, params: dict, priced_out: Iterable[str]) -> str:
    """EXPLAIN of `query` as text, with `enable_<plan type>` off on `conn` for each plan type
    priced out (e.g. "seqscan", "sort"): the plan the large tables would get."""
    for plan_type in priced_out:
        conn.execute(f"set enable_{plan_type} = off")
    return "\n".join(line for (line,) in conn.execute(f"explain {query}", params))
