"""SPEC 2, rule by rule, on small files loaded into a real Postgres database."""

import io
import random
import tracemalloc
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots import loader, staging, validation
from bitso_platform.snapshots.loader import RAW_DDL, load_snapshot, reconcile
from bitso_platform.snapshots.spec import SNAPSHOTS
from bitso_platform.snapshots.staging import SnapshotFileError
from bitso_platform.snapshots.validation import Accounting

ALICE = "a" * 32
BOB = "b" * 32
DEPOSITS_HEADER = "id,event_timestamp,user_id,amount,currency,tx_status"


def load(warehouse: Warehouse, name: str, text: str | bytes, **options: int) -> Accounting:
    data = text.encode() if isinstance(text, str) else text
    warehouse.ensure(*RAW_DDL)
    with warehouse.connection() as conn:
        return load_snapshot(
            conn, io.BytesIO(data), SNAPSHOTS[name], source=f"{name}.csv", **options
        )


def reconcile_passed(warehouse: Warehouse, name: str) -> bool:
    with warehouse.connection() as conn:
        return bool(reconcile(conn, SNAPSHOTS[name])["passed"])


def rows(warehouse: Warehouse, query: str) -> list[tuple]:
    with warehouse.connection() as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def with_users(warehouse: Warehouse) -> Warehouse:
    load(warehouse, "users", f"user_id\n{ALICE}\n{BOB}\n")
    return warehouse


def deposits(warehouse: Warehouse, *lines: str, header: str = DEPOSITS_HEADER) -> Accounting:
    return load(warehouse, "deposits", "\n".join([header, *lines]) + "\n")


def test_a_bom_and_crlf_line_ends_are_tolerated(warehouse: Warehouse) -> None:
    accounting = load(warehouse, "users", b"\xef\xbb\xbfuser_id\r\n" + ALICE.encode() + b"\r\n")
    assert accounting.as_json() == {
        "rows_read": 1,
        "clean": 1,
        "quarantined": {},
        "exact_duplicates": 0,
        "blank": 0,
    }
    assert rows(warehouse, "select user_id from raw.users") == [(ALICE,)]


def test_the_final_newline_makes_no_row_but_blank_lines_count(warehouse: Warehouse) -> None:
    accounting = load(warehouse, "users", f"user_id\n\n{ALICE}\n  \t\n{BOB}")
    assert (accounting.rows_read, accounting.clean, accounting.blank) == (4, 2, 2)


def test_a_quoted_empty_user_id_is_a_missing_field_not_a_blank_line(warehouse: Warehouse) -> None:
    accounting = load(warehouse, "users", f'user_id\n""\n{ALICE}\n')
    assert accounting.quarantined == {"missing_field": 1}
    assert accounting.blank == 0


def test_header_names_are_compared_after_trimming(warehouse: Warehouse) -> None:
    assert load(warehouse, "users", f" user_id \n{ALICE}\n").clean == 1


@pytest.mark.parametrize(
    "header", ["userid", "user_id,extra", "", "id,event_timestamp,user_id,amount,tx_status"]
)
def test_a_wrong_header_fails_the_whole_file_naming_it(warehouse: Warehouse, header: str) -> None:
    with pytest.raises(SnapshotFileError, match=r"users\.csv: wrong header .*must start with"):
        load(warehouse, "users", f"{header}\n{ALICE}\n")


def test_bytes_that_are_not_utf8_fail_the_file_naming_the_line(warehouse: Warehouse) -> None:
    data = f"user_id\n{ALICE}\n".encode() + b"\xff\xfe" + BOB.encode() + b"\n"
    with pytest.raises(SnapshotFileError, match=r"users\.csv: line 3 is not valid UTF-8"):
        load(warehouse, "users", data)


def test_a_nul_byte_quarantines_its_row_as_malformed_and_the_rest_loads(
    warehouse: Warehouse,
) -> None:
    data = b"user_id\n" + ALICE.encode() + b"\x00\n" + BOB.encode() + b"\n"

    accounting = load(warehouse, "users", data)

    assert (accounting.quarantined, accounting.clean) == ({"malformed_row": 1}, 1)
    assert rows(warehouse, "select line_no, raw_line from raw.quarantine") == [(2, ALICE + "\x01")]


def test_user_ids_must_be_32_hex_characters(warehouse: Warehouse) -> None:
    accounting = load(warehouse, "users", f"user_id\n{ALICE}\n{'a' * 31}\n{'g' * 32}\n")
    assert accounting.quarantined == {"bad_user_id": 2}


def test_exact_duplicates_keep_the_first_copy_even_when_it_is_quarantined(
    with_users: Warehouse,
) -> None:
    accounting = deposits(
        with_users,
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
        f"2,not a time,{ALICE},10,mxn,complete",
        f"2,not a time,{ALICE},10,mxn,complete",
        f"2,not a time,{ALICE},10,mxn,complete",
    )
    assert accounting.as_json() == {
        "rows_read": 5,
        "clean": 1,
        "quarantined": {"bad_timestamp": 1},
        "exact_duplicates": 3,
        "blank": 0,
    }


def test_duplicates_compare_field_values_so_quoting_does_not_matter(with_users: Warehouse) -> None:
    accounting = deposits(
        with_users,
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
        f'"1","2021-01-01 10:00:00+00",{ALICE},10,"mxn",complete',
    )
    assert (accounting.clean, accounting.exact_duplicates) == (1, 1)


def test_rows_that_differ_only_in_whitespace_are_conflicting_ids(with_users: Warehouse) -> None:
    accounting = deposits(
        with_users,
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
        f"1,2021-01-01 10:00:00+00,{ALICE},10, mxn,complete",
        f"2,2021-01-01 10:00:00+00,{BOB},10,mxn,complete",
    )
    assert accounting.quarantined == {"conflicting_duplicate_id": 2}
    assert rows(with_users, "select id from raw.deposits") == [(2,)]


def test_the_first_matching_reason_wins(with_users: Warehouse) -> None:
    accounting = deposits(
        with_users,
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn",  # malformed_row
        "2,2021-01-01 10:00:00+00,,10,mxn,complete",  # missing_field, though user unknown
        f"x,bad,{ALICE},ten,mxn,complete",  # bad_id before bad_timestamp and bad_amount
        f"4,bad,{ALICE},ten,mxn,complete",  # bad_timestamp before bad_amount
        f"5,2021-01-01 10:00:00+00,{ALICE},ten,mxn,complete",  # bad_amount
        f"6,2021-01-01 10:00:00+00,{'c' * 32},-1,m-n,complete",  # non_positive before currency
        f"7,2021-01-01 10:00:00+00,{'c' * 32},1,m-n,complete",  # bad_currency before unknown
        f"8,2021-01-01 10:00:00+00,{'c' * 32},1,mxn,complete",  # unknown_user
        f"-9,2021-01-01 10:00:00+00,{ALICE},1,mxn,comp\rlete",  # malformed before bad_id
    )
    assert accounting.quarantined == {
        "malformed_row": 2,
        "missing_field": 1,
        "bad_id": 1,
        "bad_timestamp": 1,
        "bad_amount": 1,
        "non_positive_amount": 1,
        "bad_currency": 1,
        "unknown_user": 1,
    }


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2020-01-10 14:11:05.63+00", "2020-01-10 14:11:05.630000+00:00"),
        ("2021-03-02 01:00:00-06", "2021-03-02 07:00:00+00:00"),
        ("2021-03-02T01:00:00Z", "2021-03-02 01:00:00+00:00"),
        ("2021-03-02 01:00:00+05:30", "2021-03-01 19:30:00+00:00"),
        ("2021-03-02 01:00:00+0530", "2021-03-01 19:30:00+00:00"),
        ("2021-03-02 01:00:00.1234565+00", "2021-03-02 01:00:00.123457+00:00"),
        ("2021-03-02 01:00:00.123456+00", "2021-03-02 01:00:00.123456+00:00"),
    ],
)
def test_timestamps_of_every_allowed_form_are_stored_in_utc(
    with_users: Warehouse, text: str, utc: str
) -> None:
    assert deposits(with_users, f"1,{text},{ALICE},10,mxn,complete").clean == 1
    stored = rows(with_users, "select occurred_at from raw.deposits")[0][0]
    assert str(stored.astimezone(UTC)) == utc


@pytest.mark.parametrize(
    "text",
    [
        "2021-02-30 10:00:00+00",
        "2021-01-01 25:00:00+00",
        "2021-01-01 10:60:00+00",
        "2021-01-01 10:00:00",
        "2021-01-01 10:00:00+19",
        "2021-1-01 10:00:00+00",
        "0000-01-01 10:00:00+00",
        "yesterday",
    ],
)
def test_timestamps_that_are_not_real_instants_are_quarantined(
    with_users: Warehouse, text: str
) -> None:
    assert deposits(with_users, f"1,{text},{ALICE},10,mxn,complete").quarantined == {
        "bad_timestamp": 1
    }


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("6.8e12", None),
        (".5", None),
        ("1E-400", None),
        ("-10", "non_positive_amount"),
        ("0.000", "non_positive_amount"),
        ("NaN", "bad_amount"),
        ('"1,5"', "bad_amount"),
        ("ten", "bad_amount"),
        ("1e1000", "bad_amount"),
    ],
)
def test_amounts_are_decimal_or_scientific_and_positive(
    with_users: Warehouse, amount: str, reason: str | None
) -> None:
    accounting = deposits(with_users, f"1,2021-01-01 10:00:00+00,{ALICE},{amount},mxn,complete")
    assert accounting.quarantined == ({reason: 1} if reason else {})


def test_clean_rows_are_trimmed_and_lower_cased(with_users: Warehouse) -> None:
    deposits(with_users, f" 7 , 2021-01-01 10:00:00+00 ,{ALICE}, 6.8e12, MXN , Complete ")
    # raw keeps the amount exactly as written; core.transactions holds its numeric value
    assert rows(
        with_users, "select id, amount, amount::numeric, currency, tx_status from raw.deposits"
    ) == [(7, "6.8e12", Decimal("6800000000000"), "mxn", "complete")]


def test_rows_of_a_user_quarantined_in_the_users_file_say_so(warehouse: Warehouse) -> None:
    users = load(warehouse, "users", f"user_id\n{ALICE}\n{BOB}\n{BOB} \nnot-a-user\n")
    assert users.quarantined == {"bad_user_id": 1, "conflicting_duplicate_id": 2}
    accounting = deposits(
        warehouse,
        f"1,2021-01-01 10:00:00+00,{BOB},10,mxn,complete",
        "2,2021-01-01 10:00:00+00, not-a-user ,10,mxn,complete",
        f"3,2021-01-01 10:00:00+00,{'c' * 32},10,mxn,complete",
    )
    assert accounting.quarantined == {"quarantined_user": 2, "unknown_user": 1}


@pytest.mark.parametrize(
    "control", ["\x01", "\x0b", "\x0c", "\r", "\x1f", "\x7f", "\x85", "\x9f", "\u2028", "\u2029"]
)
@pytest.mark.parametrize("block_bytes", [staging.CHUNK_BYTES, 64])
def test_a_control_character_anywhere_in_a_line_makes_it_malformed(
    with_users: Warehouse, control: str, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "CHUNK_BYTES", block_bytes)  # 64: a line per block
    accounting = deposits(
        with_users,
        f"1,2021-01-01 10:00:00+00,{ALICE},10,mx{control}n,complete",
        f'2,2021-01-01 10:00:00+00,{ALICE},10,mxn,"comp{control}lete"',
        f"3,2021-01-01 10:00:00+00,{ALICE},10,mxn,complet{control}e",
        f"4,2021-01-01 10:00:00+00,{ALICE},10,\tmxn,complete",  # tab is whitespace: clean
    )
    assert (accounting.quarantined, accounting.clean) == ({"malformed_row": 3}, 1)


@pytest.mark.parametrize(
    ("currency", "reason"),
    [
        (" MXN ", None),
        ("usdt0", None),
        ("abcdefghijkl", None),
        ("m", "bad_currency"),
        ("abcdefghijklm", "bad_currency"),
        ("mx-n", "bad_currency"),
        ("mxn');drop table raw.users;--", "bad_currency"),
        ("m\u00f1", "bad_currency"),
        ("mx n", "bad_currency"),
    ],
)
def test_a_currency_is_2_to_12_lowercase_ascii_letters_or_digits(
    with_users: Warehouse, currency: str, reason: str | None
) -> None:
    accounting = deposits(with_users, f"1,2021-01-01 10:00:00+00,{ALICE},10,{currency},complete")
    assert accounting.quarantined == ({reason: 1} if reason else {})


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("99999999999999999999.999999999999999999", None),
        ("9.9999999999999999999e19", None),
        ("0000000000000000000000001", None),
        ("0.00000000000000000000000000001e48", None),
        ("1e20", "bad_amount"),
        ("100000000000000000000", "bad_amount"),
        ("0.1e21", "bad_amount"),
        ("1e400", "bad_amount"),
        ("-1e400", "bad_amount"),
        ("0e400", "non_positive_amount"),
    ],
)
def test_an_amount_of_1e20_or_more_is_a_bad_amount(
    with_users: Warehouse, amount: str, reason: str | None
) -> None:
    accounting = deposits(with_users, f"1,2021-01-01 10:00:00+00,{ALICE},{amount},mxn,complete")
    assert accounting.quarantined == ({reason: 1} if reason else {})


def numbers(count: int, seed: int = 7) -> list[str]:
    """Amounts as files write them: signs, leading zeros, points, exponents, and integer
    parts of 19 to 22 significant digits, around the 1e20 bound."""
    pick = random.Random(seed)
    texts = set()
    while len(texts) < count:
        whole = "0" * pick.choice([0, 0, 1, 3]) + "".join(
            pick.choice("0123456789") for _ in range(pick.choice([0, 1, 2, 19, 20, 21, 22]))
        )
        point = pick.choice(["", ".", "." + "".join(pick.choice("09") for _ in range(18))])
        exponent = pick.choice(["", "", "e1", "E-1", "e+2", "e-20", "e19", "e400", "E-400"])
        sign = pick.choice(["", "", "+", "-"])
        if any(c.isdigit() for c in whole + point):
            texts.add(sign + whole + point + exponent)
    return sorted(texts)


def test_amount_bounds_decided_on_the_text_agree_with_exact_decimal_arithmetic() -> None:
    amounts = numbers(3000)
    with loader._duckdb("64MB") as db:
        validation.prepare(db, SNAPSHOTS["deposits"])
        judged = db.execute(
            "select s, is_number(s), is_too_large(s), is_non_positive(s)"
            " from unnest($1::varchar[]) as t(s) order by s",
            [amounts],
        ).fetchall()
    for text, is_number, too_large, non_positive in judged:
        value = Decimal(text)
        assert is_number, text
        assert too_large == (abs(value) >= Decimal("1e20")), text
        assert non_positive == (value <= 0 or text.startswith("-")), text


@pytest.mark.parametrize(("row_id", "reason"), [("-5", "bad_id"), ("-0", "bad_id"), ("+5", None)])
def test_a_negative_id_is_a_bad_id(with_users: Warehouse, row_id: str, reason: str | None) -> None:
    accounting = deposits(with_users, f"{row_id},2021-01-01 10:00:00+00,{ALICE},10,mxn,complete")
    assert accounting.quarantined == ({reason: 1} if reason else {})


def test_a_line_over_the_size_limit_is_quarantined_by_number_and_the_rest_loads(
    with_users: Warehouse,
) -> None:
    long = f"9,2021-01-01 10:00:00+00,{ALICE},10,mxn," + "x" * 5_000
    accounting = load(
        with_users,
        "deposits",
        "\n".join([DEPOSITS_HEADER, f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete", long])
        + f"\n2,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete\n{long}",
        max_line_bytes=4_096,
    )
    assert accounting.as_json() == {
        "rows_read": 4,
        "clean": 2,
        "quarantined": {"oversized_row": 2},  # never compared: not counted as a copy
        "exact_duplicates": 0,
        "blank": 0,
    }
    quarantined = rows(with_users, "select line_no, reason, raw_line from raw.quarantine")
    assert [(line, reason) for line, reason, _ in sorted(quarantined)] == [
        (3, "oversized_row"),
        (5, "oversized_row"),
    ]
    assert all(text.startswith("9,2021") and len(text) < 300 for _, _, text in quarantined)
    assert reconcile_passed(with_users, "deposits")


def test_loading_deposits_before_any_user_fails_with_what_to_do(warehouse: Warehouse) -> None:
    with pytest.raises(SnapshotFileError, match="load the users snapshot first"):
        deposits(warehouse, f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete")


def test_the_quarantine_keeps_the_raw_text_file_line_and_reason(with_users: Warehouse) -> None:
    deposits(with_users, f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete", 'x,"a,b",,,,')
    assert rows(
        with_users,
        "select snapshot, source, line_no, reason, raw_line"
        " from raw.quarantine where snapshot = 'deposits'",
    ) == [
        ("deposits", "deposits.csv", 3, "missing_field", 'x,"a,b",,,,'),
    ]


def test_malformed_quoting_is_a_malformed_row(with_users: Warehouse) -> None:
    accounting = deposits(with_users, f'1,"2021-01-01 10:00:00+00"x,{ALICE},10,mxn,complete')
    assert accounting.quarantined == {"malformed_row": 1}


def test_the_reconciliation_fails_when_the_tables_disagree(with_users: Warehouse) -> None:
    deposits(with_users, f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete")
    with with_users.connection() as conn:
        assert reconcile(conn, SNAPSHOTS["deposits"])["passed"] is True
        conn.execute("delete from raw.deposits")
        outcome = reconcile(conn, SNAPSHOTS["deposits"])
    assert outcome["passed"] is False
    assert (outcome["clean"], outcome["clean_in_table"]) == (1, 0)


# Copies, conflicts and quarantined rows spread so that, with tiny blocks, each one's
# partners are in other blocks: a later copy of a clean row, of a quarantined row and of a
# quoted row, and an id whose rows differ.
SPREAD = (
    f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
    f"2,not a time,{ALICE},10,mxn,complete",
    f'"3","2021-01-02 10:00:00+00",{BOB},5,"mxn",complete',
    f"4,2021-01-03 10:00:00+00,{BOB},7,usd,failed",
    "",
    f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
    f"2,not a time,{ALICE},10,mxn,complete",
    f"3,2021-01-02 10:00:00+00,{BOB},5,mxn,complete",
    f"4,2021-01-03 10:00:00+00,{BOB},8,usd,failed",
    f"1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete",
)


def loaded_state(warehouse: Warehouse) -> tuple[list[tuple], list[tuple]]:
    return (
        rows(warehouse, "select id, source_line from raw.deposits order by source_line"),
        rows(
            warehouse,
            "select line_no, reason, raw_line from raw.quarantine"
            " where snapshot = 'deposits' order by line_no",
        ),
    )


@pytest.mark.parametrize("block_bytes", [64, 200])
def test_copies_and_conflicts_across_blocks_are_settled_as_within_one(
    with_users: Warehouse, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = deposits(with_users, *SPREAD)
    expected = loaded_state(with_users)
    monkeypatch.setattr(staging, "CHUNK_BYTES", block_bytes)
    assert deposits(with_users, *SPREAD) == whole
    assert loaded_state(with_users) == expected
    assert whole.as_json() == {
        "rows_read": 10,
        "clean": 2,  # ids 1 and 3
        "quarantined": {"bad_timestamp": 1, "conflicting_duplicate_id": 2},
        "exact_duplicates": 4,
        "blank": 1,
    }
    assert expected[0] == [(1, 2), (3, 4)]
    assert [line for line, _, _ in expected[1]] == [3, 5, 10]


def test_rows_that_share_a_fingerprint_but_differ_are_both_kept(
    with_users: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = deposits(with_users, *SPREAD)
    levels = "\n".join(
        ["user_id,jurisdiction,level,event_timestamp"]
        + [f"{ALICE},mx,{level},2021-01-0{day} 10:00:00+00" for day, level in enumerate("1212", 1)]
        + [f"{ALICE},mx,1,2021-01-01 10:00:00+00", f"{BOB},mx,1,bad"]
    )
    expected_levels = load(with_users, "user_levels", levels)
    # Two fingerprints for every row, and one line per block: nearly every pair collides.
    monkeypatch.setattr(validation, "FINGERPRINT", "hash(content) % 2")
    monkeypatch.setattr(staging, "CHUNK_BYTES", 64)
    assert deposits(with_users, *SPREAD) == expected
    assert load(with_users, "user_levels", levels) == expected_levels
    assert (expected_levels.clean, expected_levels.exact_duplicates) == (4, 1)


def test_reading_a_file_with_a_huge_line_holds_only_a_chunk_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "CHUNK_BYTES", 1 << 20)
    path = tmp_path / "deposits.csv"
    with path.open("w") as out:
        out.write(f"{DEPOSITS_HEADER}\n1,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete\n")
        out.write("2," + "9" * (20 << 20) + "\n")  # 20 MB
        out.write(f"3,2021-01-01 10:00:00+00,{ALICE},10,mxn,complete\n")

    def read(stream: io.BufferedIOBase) -> list:
        snapshot = SNAPSHOTS["deposits"]
        return list(
            staging.read_blocks(stream, snapshot=snapshot, source="d.csv", max_line_bytes=64 << 10)
        )

    read(io.BytesIO(f'{DEPOSITS_HEADER}\n"1"\n'.encode()))  # imports what reading needs
    tracemalloc.start()
    with path.open("rb") as stream:
        pieces = read(stream)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    oversized = [p for p in pieces if isinstance(p, staging.Oversized)]
    assert [(p.line_no, p.head[:4]) for p in oversized] == [(3, "2,99")]
    lines = [
        n for p in pieces if isinstance(p, staging.Block) for n in p.lines["line_no"].to_pylist()
    ]
    assert lines == [2, 4]
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MB held"


@pytest.mark.parametrize("mapped", [False, True], ids=["held", "saved and mapped"])
def test_a_user_reference_matches_a_clean_user_id_exactly(mapped: bool, tmp_path: Path) -> None:
    clean = [
        "0123456789abcdef" + "0" * 16,
        "0123456789abcdef" + "1" * 16,  # shares its first 8 bytes with the others
        "0123456789abcdef" + "f" * 16,
        "0123456789ABCDEF" + "2" * 16,  # upper case is another id
        "AB" + "0" * 30,  # kept apart from the lower-case ids, as text
        "ffffffff" + "e" * 24,
    ]
    users = validation.Users.from_lines("".join(f"{u}\n" for u in clean).encode(), [BOB])
    if mapped:  # as a load keeps them between its files
        users.save(tmp_path)
        users = validation.Users.mapped(tmp_path)
    refs = [
        *reversed(clean),
        "0123456789abcdef" + "2" * 16,  # the upper-case id in lower case
        "0123456789ABCDEF" + "0" * 16,  # a lower-case id in upper case
        "aB" + "0" * 30,  # another spelling of a cased id
        "0123456789abcdef" + "0" * 15 + "g",  # 32 bytes, not hexadecimal
        "0123456789abcdef" + "0" * 15,  # one character short
        "é" * 16,  # 32 bytes, not an id
        "ffffffff" + "f" * 24,  # beyond the last id
        "00000000" + "0" * 24,  # before the first id
        BOB,
        None,
    ]
    found = users.contain(pa.array(refs, pa.string()))
    assert found.tolist() == [True] * len(clean) + [False] * (len(refs) - len(clean))
    reasons = users.reasons(pa.array([clean[0], BOB, ALICE, None], pa.string())).to_pylist()
    assert reasons == [None, "quarantined_user", "unknown_user", "unknown_user"]


def test_lower_case_user_ids_are_held_in_16_bytes_each() -> None:
    """2.6 million users at scale 100 are 41 MB, not the 103 MB of their text and heads."""
    ids = [f"{n * 7919:032x}" for n in range(1000)] + ["ABCDEF" + "0" * 26]
    users = validation.Users.from_lines("".join(f"{u}\n" for u in ids).encode())
    held = users.high.nbytes + users.low.nbytes + users.cased.nbytes
    assert held == 1000 * 16 + 32
    assert users.contain(pa.array(ids, pa.string())).all()


def test_user_ids_that_are_not_32_bytes_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="load the users snapshot again"):
        validation.Users.from_lines(b"abc\n")


def test_validation_draws_no_progress_bar_of_its_own() -> None:
    """DuckDB draws one on stdout for queries over 2 s (at scale 100, the end of a load);
    the load reports its own progress."""
    with loader._duckdb("64MB") as db:
        assert db.execute("select current_setting('enable_progress_bar')").fetchone() == (False,)


def test_user_ids_are_received_whole_across_copy_chunks() -> None:
    ids = [f"{n:032x}" for n in (5, 3, 9, 1)]
    text = "".join(f"{u}\n" for u in ids).encode()
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]  # rows split anywhere
    received = validation.Users.receive(chunks, len(ids))
    found = received.contain(pa.array([*ids, f"{7:032x}"], pa.string()))
    assert found.tolist() == [True, True, True, True, False]
    with pytest.raises(ValueError, match="load the users snapshot again"):
        validation.Users.receive(chunks[:-1], len(ids))  # a row cut short


def test_a_loaded_table_has_statistics_before_its_load_commits(with_users: Warehouse) -> None:
    """The core build plans on them in the same transaction: autovacuum sees nothing yet."""
    lines = [f"{n},2021-01-0{n} 10:00:00+00,{ALICE},{n}.5,mxn,complete" for n in range(1, 8)]
    text = "\n".join([DEPOSITS_HEADER, *lines]) + "\n"
    with with_users.connection() as conn:
        accounting = load_snapshot(
            conn, io.BytesIO(text.encode()), SNAPSHOTS["deposits"], source="d"
        )
        estimated = conn.execute(
            "select reltuples from pg_class where oid = 'raw.deposits'::regclass"
        ).fetchone()
        columns = conn.execute(
            "select count(*) from pg_stats where schemaname = 'raw' and tablename = 'deposits'"
        ).fetchone()
    assert accounting.clean == 7
    assert estimated == (7,)
    assert columns is not None and columns[0] > 0
