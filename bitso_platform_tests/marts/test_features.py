"""Point-in-time user features, segments and monthly stats, against a direct computation over
core facts in Python (the reference below), and unchanged when later days' data arrives."""

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import psycopg.rows
import pytest
from psycopg import sql

from bitso_platform import questions
from bitso_platform.access import apply_access_roles
from bitso_platform.defs.marts import catalog
from bitso_platform.defs.marts.assets import plan_for_first_rows, preview_query, rebuild_session
from bitso_platform.defs.marts.catalog import USER_SEGMENTS
from bitso_platform.defs.marts.checks import run_check
from bitso_platform.defs.marts.partitions import Window
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.sql import load_sql
from bitso_platform_tests.marts import world
from bitso_platform_tests.plans import mart_insert, plan_nodes, price_out

DAYS = (world.FIRST_DAY, world.BURST_DAY, date(2022, 4, 12), world.LAST_FACT_DAY)
WINDOWS = {"7d": 7, "30d": 30, "90d": 90}


@dataclass
class Facts:
    """Core facts read once: counted movements, login days, users and level changes."""

    movements: list[tuple[date, str, str, str, Decimal]]  # day, user, currency, kind, amount
    logins: list[tuple[date, str]]
    first_seen: dict[str, date]
    levels: dict[str, list[tuple[datetime, int, str, str]]] = field(default_factory=dict)


def read_facts(conn: psycopg.Connection) -> Facts:
    movements = conn.execute(
        "select occurred_on, user_id, currency, kind, amount from core.transactions"
        " where is_complete"
    ).fetchall()
    logins = conn.execute("select logged_in_on, user_id from core.logins").fetchall()
    first_seen = dict(
        conn.execute(
            "select user_id, first_seen_on from core.users where first_seen_on is not null"
        ).fetchall()
    )
    levels: dict[str, list] = defaultdict(list)
    for user, valid_from, rank, level, jurisdiction in conn.execute(
        "select user_id, valid_from, rank, level, jurisdiction from core.user_levels"
    ):
        levels[user].append((valid_from, rank, level, jurisdiction))
    return Facts(movements, logins, first_seen, levels)


def in_window(day: date, as_of: date, days: int | None) -> bool:
    """Whether `day` is among the `days` days ending with `as_of` (None: on or before it)."""
    return day <= as_of and (days is None or day > as_of - timedelta(days=days))


def expected_currency_features(facts: Facts, as_of: date) -> dict[tuple[str, str], dict]:
    """Per user and currency with a counted movement on or before `as_of`."""
    features: dict[tuple[str, str], dict] = {}
    for day, user, currency, kind, amount in facts.movements:
        if day > as_of:
            continue
        row = features.setdefault((user, currency), _empty_currency_row())
        plural = f"{kind}s"
        for suffix, days in (*WINDOWS.items(), ("to_date", None)):
            if in_window(day, as_of, days):
                row[f"count_{plural}_{suffix}"] += 1
                row[f"amount_{plural}_{suffix}"] += amount
        last = f"last_{kind}_on"
        row[last] = max(filter(None, (row[last], day)))
    return features


def _empty_currency_row() -> dict:
    row: dict = {"last_deposit_on": None, "last_withdrawal_on": None}
    for kind in ("deposits", "withdrawals"):
        for suffix in (*WINDOWS, "to_date"):
            row[f"count_{kind}_{suffix}"] = 0
            row[f"amount_{kind}_{suffix}"] = Decimal(0)
    return row


def expected_user_features(facts: Facts, as_of: date) -> dict[str, dict]:
    """Per user seen on or before `as_of`: counts over currencies, logins, recency, level."""
    accounts = expected_currency_features(facts, as_of)
    features = {}
    for user, first_seen in facts.first_seen.items():
        if first_seen > as_of:
            continue
        mine = [row for (owner, _), row in accounts.items() if owner == user]
        row: dict = {"first_seen_on": first_seen}
        for kind in ("deposits", "withdrawals"):
            for suffix in (*WINDOWS, "to_date"):
                row[f"count_{kind}_{suffix}"] = sum(r[f"count_{kind}_{suffix}"] for r in mine)
        deposits = [r["last_deposit_on"] for r in mine if r["last_deposit_on"]]
        row["last_deposit_on"] = max(deposits) if deposits else None
        features[user] = row
    for day, user in facts.logins:
        if user in features and day <= as_of:
            row = features[user]
            row["last_login_on"] = max(day, row.get("last_login_on") or day)
            for suffix in ("7d", "30d"):
                key = f"count_logins_{suffix}"
                row[key] = row.get(key, 0) + in_window(day, as_of, WINDOWS[suffix])
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    for user, row in features.items():
        row.setdefault("last_login_on", None)
        row.setdefault("count_logins_7d", 0)
        row.setdefault("count_logins_30d", 0)
        for what in ("deposit", "login"):
            last = row[f"last_{what}_on"]
            row[f"days_since_last_{what}"] = (as_of - last).days if last else None
        changes = [c for c in facts.levels.get(user, []) if c[0] < end]
        latest = max(changes, key=lambda c: (c[0], -c[1]), default=None)
        row["level"], row["jurisdiction"] = (latest[2], latest[3]) if latest else (None, None)
    return features


def view_rows(conn: psycopg.Connection, view: str, as_of: date, key: tuple[str, ...]) -> dict:
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    query = sql.SQL("select * from {} where day = %s").format(sql.Identifier("marts", view))
    rows = cursor.execute(query, [as_of]).fetchall()
    result = {}
    for row in rows:
        row.pop("day")
        index = tuple(row.pop(k) for k in key)
        result[index if len(index) > 1 else index[0]] = row
    return result


@pytest.fixture(scope="module")
def built(templates: world.Templates) -> str:
    """The built world, read-only: shared by the tests of this module."""
    return templates.built


@pytest.fixture(scope="module")
def facts(built: str) -> Facts:
    with psycopg.connect(built) as conn:
        return read_facts(conn)


@pytest.mark.parametrize("as_of", DAYS, ids=str)
def test_features_as_of_a_day_equal_a_direct_computation_over_core(
    built: str, facts: Facts, as_of: date
) -> None:
    with psycopg.connect(built) as conn:
        users = view_rows(conn, "user_features_as_of", as_of, ("user_id",))
        accounts = view_rows(conn, "user_currency_features_as_of", as_of, ("user_id", "currency"))
    expected_users = expected_user_features(facts, as_of)
    assert users == expected_users
    expected_accounts = expected_currency_features(facts, as_of)
    for row in expected_accounts.values():
        for what in ("deposit", "withdrawal"):
            last = row[f"last_{what}_on"]
            row[f"days_since_last_{what}"] = (as_of - last).days if last else None
    assert accounts == expected_accounts
    assert users and (as_of == world.FIRST_DAY or accounts)


def test_a_users_level_as_of_a_day_is_a_probe_of_the_level_index(built: str) -> None:
    # core.user_levels' ids are compared in its own collation, that of its index: compared in
    # core.users' ("C"), every user of the view read every level (4.2 M rows at scale 100).
    with psycopg.connect(built) as conn:
        conn.execute("set enable_seqscan = off")  # the world's few levels would be read whole
        plan = conn.execute(
            "explain (format json) select * from marts.user_features_as_of where day = %s",
            [world.BURST_DAY],
        ).fetchone()[0][0]["Plan"]
    scans = [
        (node.get("Index Name"), "user_id = " in node.get("Index Cond", ""))
        for node in plan_nodes(plan)
        if node.get("Relation Name") == "user_levels"
    ]
    assert scans == [("user_levels_as_of", True)]  # an index range of the user, not a full read


def test_an_accounts_features_as_of_a_day_read_the_key_index_backwards_without_a_sort(
    built: str,
) -> None:
    # Each account's latest row on or before the day comes first when the key index is read
    # backwards: ordered with the day alone descending, no index gives that order and every row
    # before the day was sorted first, whatever the settings (5 rows at scale 100: 35-44 s).
    with psycopg.connect(built) as conn:
        price_out(conn, ("seqscan", "bitmapscan"))
        plan = conn.execute(
            "explain (format json)"
            " select * from marts.user_currency_features_as_of where day = %s limit 5",
            [world.LAST_FACT_DAY],
        ).fetchone()[0][0]["Plan"]
    nodes = list(plan_nodes(plan))
    assert [node["Node Type"] for node in nodes if "Sort" in node["Node Type"]] == []
    scans = [
        (node.get("Index Name"), node.get("Scan Direction"))
        for node in nodes
        if node.get("Relation Name") == "daily_user_features"
    ]
    assert scans == [("daily_user_features_key", "Backward")]


def test_the_heavy_users_features_read_as_written_by_hand(built: str) -> None:
    with psycopg.connect(built) as conn:
        on_last = view_rows(conn, "user_features_as_of", world.LAST_FACT_DAY, ("user_id",))
        week_later = view_rows(
            conn, "user_features_as_of", world.LAST_FACT_DAY + timedelta(days=7), ("user_id",)
        )
        accounts = view_rows(
            conn, "user_currency_features_as_of", world.LAST_FACT_DAY, ("user_id", "currency")
        )
    heavy = on_last[world.HEAVY]
    # six 0.1 btc deposits on the last day, two mxn deposits in 2020 and 2021
    assert (heavy["count_deposits_7d"], heavy["count_deposits_to_date"]) == (6, 8)
    assert (heavy["count_withdrawals_7d"], heavy["count_withdrawals_to_date"]) == (1, 1)
    # last logins on 2022-04-12 (two, one written at 09:00-02)
    assert heavy["last_login_on"] == date(2022, 4, 12)
    assert heavy["days_since_last_login"] == 498
    assert (heavy["count_logins_7d"], heavy["count_logins_30d"]) == (0, 0)
    assert heavy["days_since_last_deposit"] == 0
    assert heavy["first_seen_on"] == world.FIRST_DAY
    btc = accounts[(world.HEAVY, "btc")]
    assert (btc["amount_deposits_7d"], btc["amount_withdrawals_7d"]) == (
        Decimal("0.6"),
        Decimal("0.25"),
    )
    mxn = accounts[(world.HEAVY, "mxn")]
    assert (mxn["count_deposits_to_date"], mxn["amount_deposits_to_date"]) == (
        2,
        Decimal("100.105"),
    )
    assert (mxn["count_deposits_90d"], mxn["last_deposit_on"]) == (0, date(2021, 3, 2))
    # a week later the last day's deposits have left the 7-day window, not the 30-day one
    later = week_later[world.HEAVY]
    assert (later["count_deposits_7d"], later["count_deposits_30d"]) == (0, 6)
    assert later["days_since_last_deposit"] == 7
    assert world.IDLE not in on_last  # in the users snapshot, never seen
    failed_only = on_last[world.FAILED_ONLY]
    assert failed_only["count_deposits_to_date"] == 0
    assert failed_only["last_login_on"] is None


def truncate_after(url: str, day: date) -> None:
    """Make the world as it was at the end of `day`: raw rows dated later are removed and core
    is rebuilt from what is left (what a snapshot taken that night would have held)."""
    warehouse = Warehouse(url=url)
    end = day + timedelta(days=1)
    with warehouse.connection() as conn:
        for table in ("deposits", "withdrawals", "events", "user_levels"):
            conn.execute(
                sql.SQL("delete from {} where occurred_at >= %s").format(
                    sql.Identifier("raw", table)
                ),
                [datetime.combine(end, time(), tzinfo=UTC)],
            )
        for table in ("transactions", "logins", "users", "user_levels"):
            warehouse.run_sql(conn, f"core/{table}", {"login_events": ["login"]})


def test_the_features_of_a_day_do_not_change_when_later_days_are_added_and_rebuilt(
    templates: world.Templates, new_database_url: Callable[[], str], built: str
) -> None:
    as_of = world.BURST_DAY
    then = templates.copy(templates.loaded, new_database_url)
    truncate_after(then, as_of)
    world.build(then)  # the same days as the full world: the later ones are empty
    with psycopg.connect(then) as before, psycopg.connect(built) as after:
        for view, key in (
            ("user_features_as_of", ("user_id",)),
            ("user_currency_features_as_of", ("user_id", "currency")),
            ("user_segments", ("segment", "user_id")),
        ):
            assert view_rows(before, view, as_of, key) == view_rows(after, view, as_of, key), view
        stored = "select * from marts.daily_user_features where day <= %s order by 1, 2, 3"
        assert (
            before.execute(stored, [as_of]).fetchall() == after.execute(stored, [as_of]).fetchall()
        )
        later = as_of + timedelta(days=1)
        assert view_rows(before, "user_features_as_of", later, ("user_id",)) != view_rows(
            after, "user_features_as_of", later, ("user_id",)
        )


def expected_segments(facts: Facts, as_of: date) -> dict[str, list[str]]:
    """The segment rules of docs/marts.md, applied to the core facts directly."""
    seen = {u: d for u, d in facts.first_seen.items() if d <= as_of}
    deposited = {u for day, u, _, kind, _ in facts.movements if kind == "deposit" and day <= as_of}
    logged_in = {u for day, u in facts.logins if in_window(day, as_of, 30)}
    mxn: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    for day, user, currency, kind, amount in facts.movements:
        if kind == "deposit" and in_window(day, as_of, 90):
            count[user] += 1
            mxn[user] += amount if currency == "mxn" else 0
    ranked = sorted(count, key=lambda u: (-mxn[u], -count[u], u.encode()))
    return {
        "never_deposited": sorted(u for u in seen if u not in deposited),
        "dormant": sorted(
            u for u, d in seen.items() if d <= as_of - timedelta(30) and u not in logged_in
        ),
        "new_this_week": sorted(u for u, d in seen.items() if d > as_of - timedelta(7)),
        "high_value": sorted(ranked[: math.ceil(len(ranked) / 100)]),
    }


@pytest.mark.parametrize("as_of", DAYS[1:], ids=str)
def test_segments_follow_their_rules(built: str, facts: Facts, as_of: date) -> None:
    expected = expected_segments(facts, as_of)
    with psycopg.connect(built) as conn:
        answers = {name: questions.segment(conn, name, as_of) for name in questions.SEGMENTS}
    assert answers == expected
    assert answers["never_deposited"] and answers["high_value"]


def test_an_unknown_segment_is_refused(built: str) -> None:
    with psycopg.connect(built) as conn, pytest.raises(ValueError, match="unknown segment"):
        questions.segment(conn, "whales", world.BURST_DAY)


def test_monthly_stats_equal_a_direct_aggregation_of_core(built: str, facts: Facts) -> None:
    totals: dict[tuple[date, str], dict] = defaultdict(
        lambda: {"count_d": 0, "sum_d": Decimal(0), "users_d": set(), "count_w": 0,
                 "sum_w": Decimal(0), "users_w": set()}
    )  # fmt: skip
    for day, user, currency, kind, amount in facts.movements:
        month = totals[(day.replace(day=1), currency)]
        side = "d" if kind == "deposit" else "w"
        month[f"count_{side}"] += 1
        month[f"sum_{side}"] += amount
        month[f"users_{side}"].add(user)
    expected = {
        key: (
            t["count_d"],
            t["sum_d"],
            t["sum_d"] / t["count_d"] if t["count_d"] else None,
            len(t["users_d"]),
            t["count_w"],
            t["sum_w"],
            t["sum_w"] / t["count_w"] if t["count_w"] else None,
            len(t["users_w"]),
        )
        for key, t in totals.items()
    }
    with psycopg.connect(built) as conn:
        rows = conn.execute(
            "select month, currency, count_deposits, amount_deposits, average_deposit,"
            " count_depositors, count_withdrawals, amount_withdrawals, average_withdrawal,"
            " count_withdrawers from marts.monthly_currency_stats"
        ).fetchall()
    actual = {(r[0], r[1]): r[2:] for r in rows}
    assert actual.keys() == expected.keys()
    for key, values in actual.items():
        want = expected[key]
        averages = (2, 6)
        assert [v for i, v in enumerate(values) if i not in averages] == [
            w for i, w in enumerate(want) if i not in averages
        ], key
        for i in averages:  # Postgres divides numerics to its own scale
            assert (values[i] is None) == (want[i] is None), key
            if want[i] is not None:
                assert abs(values[i] - want[i]) < Decimal("1e-12"), key


def test_marketing_and_ml_read_their_views_without_reading_the_facts(built_url: str) -> None:
    with psycopg.connect(built_url) as conn:
        apply_access_roles(conn)
        dormant = questions.segment(conn, "dormant", world.BURST_DAY)
    for role, view in (("marketing_reader", "user_segments"), ("ml_reader", "user_features_as_of")):
        with psycopg.connect(built_url, user=role, autocommit=True) as conn:
            query = sql.SQL("select user_id from {} where day = %s").format(
                sql.Identifier("marts", view)
            )
            assert conn.execute(query, [world.BURST_DAY]).fetchall()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select count(*) from core.transactions")
    with psycopg.connect(built_url, user="marketing_reader") as conn:
        members = conn.execute(
            load_sql("questions/segment"), {"name": "dormant", "day": world.BURST_DAY}
        )
        assert [user for (user,) in members] == dormant


def test_the_segments_check_fails_when_the_features_disagree_with_the_daily_marts(
    built_url: str,
) -> None:
    check = USER_SEGMENTS.checks[0]
    window = Window(world.BURST_DAY, world.BURST_DAY + timedelta(days=1))
    with psycopg.connect(built_url) as conn:
        assert run_check(conn, USER_SEGMENTS, check, window).passed
        conn.execute(
            "update marts.daily_user_features set count_deposits_to_date = 0 where user_id = %s",
            [world.HEAVY],
        )
        result = run_check(conn, USER_SEGMENTS, check, window)
    assert not result.passed
    # The features now put HEAVY in never_deposited; the segments, from the daily marts, do not.
    assert result.metadata["missing_members"].value == 1
    assert result.metadata["extra_members"].value == 0


def test_a_full_rebuild_of_the_features_sorts_its_deltas_once_and_groups_nothing(
    built_url: str,
) -> None:
    # The running sums read the deltas in account and day order, straight from their one sort.
    # Grouped by day first, they cost a quarter more (a change day has one delta or few), and
    # read twice (once more for the accounts to look up), they were sorted twice more: a full
    # rebuild at scale 100 took 593 s, then 383 s, before this shape.
    outer_path = []  # the insert's outer path down to its scan
    node = _full_rebuild_plan(built_url)
    while True:
        outer_path.append(node["Node Type"])
        outer = [
            n for n in node.get("Plans", []) if n["Parent Relationship"] in ("Outer", "Subquery")
        ]
        if not outer:
            break
        node = outer[0]
    # The subquery scan adds each account's opening row to its sums, above the window.
    assert outer_path[:4] == ["ModifyTable", "Unique", "Subquery Scan", "WindowAgg"], outer_path
    assert outer_path.count("Sort") == 1 and "Aggregate" not in outer_path


def test_the_features_running_sums_multiply_no_amount_and_add_no_missing_opening(
    built_url: str,
) -> None:
    # A delta's amount is summed into the windows it changes as it is (or negated), where it
    # was multiplied by 1, 0 or -1 for every window; the opening row, which a full rebuild never
    # has, is added to the sums above the window, and only where there is one (`coalesce`):
    # together a fifth of the insert at scale 100 (docs/benchmarks.md).
    nodes = list(plan_nodes(_full_rebuild_plan(built_url, verbose=True)))
    outputs = [expression for node in nodes for expression in node.get("Output", [])]
    multiplied = [e for e in outputs if re.search(r"amount_(deposits|withdrawals) \*", e)]
    assert not multiplied, multiplied
    (window,) = [node for node in nodes if node["Node Type"] == "WindowAgg"]
    added = [e for e in window["Output"] if "sum(" in e and " + " in e]
    assert not added, added


def test_one_day_of_the_features_reads_the_movements_of_its_four_change_days(
    built_url: str,
) -> None:
    # A day's rows change with the movements of that day and of 7, 30 and 90 days before:
    # reading the 90 days between them was a third of one day's insert at scale 100.
    day = world.LAST_FACT_DAY
    change_days = [day - timedelta(days=shift) for shift in (0, 7, 30, 90)]
    mart = catalog.DAILY_USER_FEATURES
    warehouse = Warehouse(url=built_url)
    with warehouse.connection() as conn:
        rebuild_session(warehouse, conn, mart)
        params = Window(day, day + timedelta(days=1)).params()
        conn.execute("delete from marts.daily_user_features where day = %(window_start)s", params)
        (plan,) = conn.execute(
            f"explain (analyze, format json) {mart_insert(mart.table)}", params
        ).fetchone()
        (counted,) = conn.execute(
            "select count(*) from marts.daily_movements where day = any(%s)"
            " and (count_deposits > 0 or count_withdrawals > 0)",
            [change_days],
        ).fetchone()
        (read_90_days,) = conn.execute(
            "select count(*) from marts.daily_movements where day between %s and %s",
            [change_days[-1], day],
        ).fetchone()
        conn.rollback()
    scans = [
        node
        for node in plan_nodes(plan[0]["Plan"])
        if node.get("Relation Name") == "daily_movements"
    ]
    assert counted < read_90_days  # the world has movements between the change days
    assert sum(node["Actual Rows"] for node in scans) == counted, scans


def test_the_segments_preview_probes_for_its_five_rows_instead_of_hashing_the_view(
    built_url: str,
) -> None:
    # The step's preview of a view is five rows of its day: planned as the whole view, it
    # hashed every user's first deposit first (0.4-1.3 s a run at scale 100).
    window = Window(world.LAST_FACT_DAY, world.LAST_FACT_DAY + timedelta(days=1))
    query, params = preview_query(USER_SEGMENTS, window)
    with psycopg.connect(built_url) as conn:
        plan_for_first_rows(conn, USER_SEGMENTS)
        explain = sql.SQL("explain (analyze, format json) ")
        (plan,) = conn.execute(explain + query, params).fetchone()
        rows = conn.execute(query, params).fetchall()
    built = [
        node["Node Type"]
        for node in plan_nodes(plan[0]["Plan"])
        if node["Node Type"] in ("Hash", "Sort") and node["Actual Loops"] > 0
    ]
    assert built == []  # nothing read whole before the first row
    assert len(rows) == 5 and {row[0] for row in rows} == {world.LAST_FACT_DAY}


def _full_rebuild_plan(built_url: str, *, verbose: bool = False) -> dict:
    """The plan of the features' insert over every built day into an empty table (JSON)."""
    mart = catalog.DAILY_USER_FEATURES
    window = {"window_start": world.FIRST_DAY, "window_end": world.LAST_BUILT_DAY}
    options = "verbose, format json" if verbose else "format json"
    warehouse = Warehouse(url=built_url)
    with warehouse.connection() as conn:
        rebuild_session(warehouse, conn, mart)
        conn.execute("truncate marts.daily_user_features")
        (plan,) = conn.execute(f"explain ({options}) {mart_insert(mart.table)}", window).fetchone()
        conn.rollback()
    return plan[0]["Plan"]


def _reconciliation_plan(built_url: str, *, verbose: bool = False) -> dict:
    """The features' reconciliation over every built day and user, planned (EXPLAIN, JSON)."""
    mart = catalog.DAILY_USER_FEATURES
    query = mart.check_sql()["reconciles_with_daily_marts"]
    everything = Window(world.FIRST_DAY, world.LAST_BUILT_DAY).params()
    options = "verbose, format json" if verbose else "format json"
    with psycopg.connect(built_url) as conn:
        (plan,) = conn.execute(
            f"explain ({options}) {query}", {**everything, "first_user": "", "end_user": None}
        ).fetchone()
    return plan[0]["Plan"]


JOINS = ("Nested Loop", "Hash Join", "Merge Join")


def test_the_features_reconciliation_joins_nothing_to_its_recomputed_rows(built_url: str) -> None:
    # Each row of the window rides in the stream its frames add up, as built, and is compared
    # where they reach it. Joined back to the mart after the frames, the rows were read a
    # second time and hashed whole (31 M at scale 100, in batches spilled to disk).
    plan = _reconciliation_plan(built_url)

    def recomputes(node: dict) -> bool:
        return any(n["Node Type"] == "WindowAgg" for n in plan_nodes(node))

    joins = [n for n in plan_nodes(plan) if n["Node Type"] in JOINS]
    assert any(recomputes(n) for n in plan_nodes(plan))
    assert [j["Node Type"] for j in joins if any(recomputes(c) for c in j["Plans"])] == []


def test_the_features_reconciliation_adds_no_zeros_for_the_rows_it_compares(
    built_url: str,
) -> None:
    # The mart's rows ride in the stream only to be compared: they add nothing to the frames,
    # so their values there are null, which the sums pass over. As zeros they went in and out
    # of four frames, most of the stream's rows: a twentieth of the check at scale 100.
    nodes = list(plan_nodes(_reconciliation_plan(built_url, verbose=True)))
    # the mart's scan in the stream: it carries each row whole (`features_1.*`), as built
    carrying_rows = [
        node
        for node in nodes
        if node.get("Relation Name") == "daily_user_features"
        and any(expression.endswith(".*") for expression in node["Output"])
    ]
    assert carrying_rows
    zeros = [
        expression
        for node in carrying_rows
        for expression in node["Output"]
        if re.fullmatch(r"'?0'?(::[a-z ]+)?", expression)
    ]
    assert zeros == []


def test_the_features_reconciliation_finds_missing_changes_by_an_anti_join_on_the_key(
    built_url: str,
) -> None:
    # The change days without a row are an anti join against the window's rows of the mart,
    # which its key gives in order (or probes, on one day). `except` sorted those rows with
    # the change days: 40 s against 15 s for a quarter of the users at scale 100.
    plan = _reconciliation_plan(built_url)
    anti = [n for n in plan_nodes(plan) if n["Node Type"] in JOINS and n.get("Join Type") == "Anti"]
    assert "SetOp" not in {n["Node Type"] for n in plan_nodes(plan)}
    assert [
        n["Relation Name"]
        for join in anti
        for n in plan_nodes(join["Plans"][1])
        if "Relation Name" in n
    ] == ["daily_user_features"]


def test_the_features_reconciliation_frames_its_days_as_integers_not_intervals(
    built_url: str,
) -> None:
    # Its 7-, 30- and 90-day frames range over the days' numbers: framed by intervals over
    # the dates, each move of a frame's start added an interval to a timestamp made of a date
    # (a sixth of the check at scale 100). The stream is sorted once, by account and number.
    nodes = list(plan_nodes(_reconciliation_plan(built_url, verbose=True)))
    frames = [n for n in nodes if n["Node Type"] == "WindowAgg"]
    sorts = [n for frame in frames for n in frame["Plans"] if n["Node Type"] == "Sort"]
    assert len(frames) == 4
    assert [sort["Sort Key"][-1] for sort in sorts] == ["((stream.day - '1970-01-01'::date))"]
