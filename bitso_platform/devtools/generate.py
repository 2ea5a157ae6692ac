"""Synthetic snapshot CSVs in the SPEC 2 input format, with their exact expected accounting.

`generate_snapshots` writes the five snapshot files of the original challenge (users,
deposits, withdrawals, events, user levels) at any scale, deterministically from a seed.
With `defects=True` it also injects every bad-row kind of SPEC 2 that applies to each
file, plus clean rows that exercise normalisation, and writes the files with a UTF-8 BOM
and CRLF line ends.

The returned manifest (also written as `manifest.json`) holds, per snapshot, the file
name and the accounting a correct loader must report. It comes from the generator's own
bookkeeping of what it wrote: every clean row counts as clean and every injected line
carries the tag it was made for. Injected rows are built so that their tags are exact:
each has a fresh id (or a fresh user id) that no other row uses, except where a shared
id is the point (`conflicting_duplicate_id`, exact duplicates).
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitso_platform.snapshots import spec

# snapshot name -> (file name, header columns), from the input contract
SNAPSHOTS: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (snapshot.file, tuple(snapshot.header)) for name, snapshot in spec.SNAPSHOTS.items()
}

BASE_COUNTS = {"users": 25_699, "deposits": 120_000, "withdrawals": 5_100, "events": 500_000}
MIN_USERS = 10

START_DAY = date(2020, 1, 1)
END_DAY = date(2023, 8, 23)
N_DAYS = (END_DAY - START_DAY).days + 1
START_EPOCH = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
# Share of all depositors that deposit on each burst day.
BURST_DAYS = {date(2021, 2, 19): 1 / 3, date(2022, 5, 20): 1 / 5}
# Smaller spikes (x weight) on the typical-day curve, echoing the real withdrawal peaks.
SPIKE_DAYS = {date(2020, 8, 20): 4.0, date(2021, 4, 20): 5.0, date(2021, 4, 21): 5.0}
FAILED_SHARE = 1 / 3

# currency: (deposit weight, withdrawal weight, log10 median amount, log10 sigma, decimals)
CURRENCIES: dict[str, tuple[float, float, float, float, int]] = {
    "mxn": (5000, 2342, 2.7, 0.8, 2),
    "usd": (1100, 638, 1.8, 0.7, 2),
    "btc": (800, 447, -2.3, 0.8, 8),
    "eth": (550, 218, -1.3, 0.8, 8),
    "brl": (500, 425, 2.3, 0.7, 2),
    "ars": (420, 286, 3.7, 0.8, 2),
    "xrp": (300, 197, 2.0, 0.8, 6),
    "cop": (250, 144, 5.0, 0.8, 2),
    "dai": (200, 105, 1.7, 0.7, 6),
    "usdt": (180, 39, 1.7, 0.7, 6),
    "ltc": (90, 34, -0.5, 0.7, 8),
    "tusd": (70, 33, 1.7, 0.7, 6),
    "ada": (70, 30, 2.0, 0.8, 6),
    "ape": (40, 19, 1.0, 0.7, 6),
    "bch": (40, 16, -0.7, 0.7, 8),
    "bat": (35, 16, 2.0, 0.7, 6),
    "mana": (35, 15, 2.0, 0.7, 6),
    "tigres": (25, 10, 1.0, 0.5, 2),
    "grt": (20, 9, 2.0, 0.7, 6),
    "matic": (20, 8, 1.5, 0.7, 6),
    "eur": (20, 8, 1.8, 0.7, 2),
    "dot": (18, 7, 0.7, 0.7, 6),
    "aave": (15, 7, -0.5, 0.7, 8),
    "sol": (15, 5, 0.0, 0.7, 8),
    "gala": (12, 5, 3.0, 0.7, 6),
    "dydx": (10, 5, 1.0, 0.7, 6),
    "pepe": (10, 4, 6.0, 0.8, 2),
    "crv": (8, 4, 1.5, 0.7, 6),
    "trx": (8, 3, 2.5, 0.7, 6),
}
ROUND_AMOUNT_SHARE = 0.6  # amounts rounded to one significant digit (10, 5, 500, ...)
OUTLIER_SHARE = 1e-4  # absurdly large amounts, like the real 6.8e12

INTERFACES = {"web": 0.75, "app": 0.2, "api": 0.05}
EVENT_NAMES = {
    "login": 0.72,
    "2falogin": 0.14,
    "password_reset": 0.05,
    "2fa_enabled": 0.03,
    "email_change": 0.02,
    "phone_verification": 0.02,
    "kyc_submitted": 0.02,
}
JURISDICTIONS = {"mx": 0.6, "ar": 0.12, "br": 0.12, "co": 0.08, "us": 0.08}
# Probability of a user having 0..4 level changes.
LEVEL_CHANGES = [0.15, 0.38, 0.25, 0.13, 0.09]
SAME_DAY_LEVEL_SHARE = 0.01  # of users with 2+ changes: all changes on one day

# Number of fractional-second digits written (before trailing zeros are dropped).
FRACTION_DIGITS = [0.03, 0.05, 0.3, 0.55, 0.03, 0.02, 0.02]

CLEAN, BLANK, DUPLICATE = "clean", "blank", "exact_duplicate"
WRITE_LINES = 1_000_000

Progress = Callable[[str, str, int, float], None]


@dataclass
class Population:
    """The clean users and the role each one plays in the activity files."""

    ids: np.ndarray  # 32-char lowercase hex strings
    depositor: np.ndarray
    withdrawer: np.ndarray
    event_user: np.ndarray
    login_user: np.ndarray

    @cached_property
    def ids_arrow(self) -> pa.Array:
        return pa.array(self.ids, pa.large_string())


@dataclass
class Snapshot:
    """One file's content: clean body lines plus injected raw lines with their tags."""

    name: str
    lines: pa.Array
    injected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def file(self) -> str:
        return SNAPSHOTS[self.name][0]

    @property
    def columns(self) -> tuple[str, ...]:
        return SNAPSHOTS[self.name][1]

    def accounting(self) -> dict:
        """Expected loader accounting, from the tags of what was written."""
        tags = Counter(tag for _, tag in self.injected)
        leading_blank = 1 if self.name == "users" else 0
        quarantined = {
            reason: count
            for reason, count in sorted(tags.items())
            if reason not in (CLEAN, BLANK, DUPLICATE)
        }
        return {
            "file": self.file,
            "rows_read": leading_blank + len(self.lines) + len(self.injected),
            "clean": len(self.lines) + tags[CLEAN],
            "quarantined": quarantined,
            "exact_duplicates": tags[DUPLICATE],
            "blank": leading_blank + tags[BLANK],
        }


def generate_snapshots(
    out: Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    defects: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Write the five snapshot CSVs and `manifest.json` into `out`; return the manifest.

    Counts are proportional to `scale` (1 is the size of the original challenge). The
    same seed, scale and defects flag always give byte-identical files. `progress`, when
    given, is called once per written file with (snapshot, file name, rows, seconds).
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # A separate stream for defects, so the clean rows are the same with or without them.
    defect_rng = np.random.default_rng([seed, 1])
    counts = _counts(scale)
    population = _population(rng, counts["users"])
    day_weights = _day_weights(rng)
    builders: dict[str, Callable[[], pa.Array]] = {
        "users": lambda: population.ids_arrow,
        "deposits": lambda: _deposits(rng, population, day_weights, counts["deposits"]),
        "withdrawals": lambda: _withdrawals(rng, population, day_weights, counts["withdrawals"]),
        "events": lambda: _events(rng, population, day_weights, counts["events"]),
        "user_levels": lambda: _user_levels(rng, population),
    }
    manifest = {}
    for name, build in builders.items():
        started = time.perf_counter()
        snapshot = Snapshot(name, build())
        if defects:
            _inject_defects(snapshot, defect_rng, population)
        _write(out / snapshot.file, snapshot, defect_rng, defects)
        manifest[name] = snapshot.accounting()
        if progress:
            rows = manifest[name]["rows_read"]
            progress(name, snapshot.file, rows, time.perf_counter() - started)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _counts(scale: float) -> dict[str, int]:
    counts = {name: max(1, round(base * scale)) for name, base in BASE_COUNTS.items()}
    counts["users"] = max(MIN_USERS, counts["users"])
    return counts


# --- clean data -------------------------------------------------------------------------


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random 32-char lowercase hex strings (may repeat; callers check)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = digits[raw >> 4]
    chars[:, 1::2] = digits[raw & 15]
    return chars.view("S32").ravel().astype(str)


def _population(rng: np.random.Generator, n: int) -> Population:
    ids = _hex_ids(rng, n)
    while len(np.unique(ids)) < n:  # astronomically unlikely, but the ids must be unique
        ids = _hex_ids(rng, n)
    idle = rng.random(n) < 0.07  # users with no activity at all
    active = ~idle
    depositor = active & (rng.random(n) < 0.55 / 0.93)
    withdrawer = active & (rng.random(n) < np.where(depositor, 0.04, 0.005))
    event_user = active & (rng.random(n) < 0.93)
    login_user = event_user & (rng.random(n) < 0.925)
    for mask in (depositor, withdrawer, login_user):
        if not mask.any():
            mask[rng.integers(n)] = True
    event_user |= login_user
    return Population(ids, depositor, withdrawer, event_user, login_user)


def _day_weights(rng: np.random.Generator) -> np.ndarray:
    """Relative activity of each day: growing over time, noisy, with a few spikes."""
    t = np.linspace(0, 1, N_DAYS)
    weights = (1 + 2.5 * t**1.2) * rng.lognormal(0, 0.5, N_DAYS)
    for day, factor in SPIKE_DAYS.items():
        weights[(day - START_DAY).days] *= factor
    return weights / weights.sum()


def _pick(rng: np.random.Generator, choices: dict, n: int) -> np.ndarray:
    """Indices into `choices` drawn with its (unnormalised) weights."""
    weights = np.array(list(choices.values()), dtype=float)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _categories(names: Sequence[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(names), pa.large_string()).take(pa.array(idx))


def _activity_users(
    rng: np.random.Generator, members: np.ndarray, total: int, sigma: float
) -> np.ndarray:
    """User indices for `total` rows: every member at least once, the rest heavy-tailed."""
    users = np.flatnonzero(members)
    weights = rng.lognormal(0, sigma, len(users))
    rest = rng.choice(users, size=max(0, total - len(users)), p=weights / weights.sum())
    return np.concatenate([users, rest])[:total]


def _deposits(
    rng: np.random.Generator, pop: Population, day_weights: np.ndarray, total: int
) -> pa.Array:
    depositors = np.flatnonzero(pop.depositor)
    burst_users, burst_days = [], []
    for day, share in BURST_DAYS.items():
        chosen = rng.choice(depositors, size=round(len(depositors) * share), replace=False)
        burst_users.append(chosen)
        burst_days.append(np.full(len(chosen), (day - START_DAY).days))
    bursts = np.concatenate(burst_users)
    regular = _activity_users(rng, pop.depositor, max(1, total - len(bursts)), 1.7)
    users = np.concatenate([regular, bursts])[:total]
    days = np.concatenate([rng.choice(N_DAYS, size=len(regular), p=day_weights), *burst_days])
    return _transactions(rng, pop, users, days[:total], "deposit")


def _withdrawals(
    rng: np.random.Generator, pop: Population, day_weights: np.ndarray, total: int
) -> pa.Array:
    users = _activity_users(rng, pop.withdrawer, total, 1.3)
    days = rng.choice(N_DAYS, size=len(users), p=day_weights)
    return _transactions(rng, pop, users, days, "withdrawal")


def _transactions(
    rng: np.random.Generator, pop: Population, users: np.ndarray, days: np.ndarray, kind: str
) -> pa.Array:
    """CSV lines of deposits or withdrawals, ordered by time with increasing ids."""
    return _join(*_transaction_columns(rng, pop, users, days, kind), sep=",")


def _transaction_columns(
    rng: np.random.Generator, pop: Population, users: np.ndarray, days: np.ndarray, kind: str
) -> list[pa.Array]:
    """Their columns, in time order. The per-row arrays they are made from end with this call,
    before the lines are joined: at scale 100 they held gigabytes beside the lines."""
    n = len(users)
    instants, stamps = _timestamps(rng, days)
    order = np.argsort(instants, kind="stable")
    weight_col = 0 if kind == "deposit" else 1
    currency = _pick(rng, {c: v[weight_col] for c, v in CURRENCIES.items()}, n)
    failed = rng.random(n) < FAILED_SHARE
    columns = [
        _ids(rng, n),
        stamps.take(order),
        pop.ids_arrow.take(pa.array(users[order])),
        _amounts(rng, currency),
    ]
    if kind == "withdrawal":
        columns.append(_categories(list(INTERFACES), _pick(rng, INTERFACES, n)))
    columns += [
        _categories(list(CURRENCIES), currency),
        _categories(["complete", "failed"], failed.astype(np.int8)),
    ]
    return columns


def _events(
    rng: np.random.Generator, pop: Population, day_weights: np.ndarray, total: int
) -> pa.Array:
    return _join(*_event_columns(rng, pop, day_weights, total), sep=",")


def _event_columns(
    rng: np.random.Generator, pop: Population, day_weights: np.ndarray, total: int
) -> list[pa.Array]:
    """The events' columns in time order; like _transaction_columns, without their per-row
    arrays beside the lines."""
    users = _activity_users(rng, pop.event_user, total, 1.0)
    n = len(users)
    names = list(EVENT_NAMES)
    any_name = _pick(rng, EVENT_NAMES, n)
    no_login = _pick(rng, {k: v for k, v in EVENT_NAMES.items() if k != "login"}, n) + 1
    name = np.where(pop.login_user[users], any_name, no_login)
    # Every login user's guaranteed first row is a login, so each of them has one.
    first = np.arange(n) < pop.event_user.sum()
    name[first & pop.login_user[users]] = names.index("login")
    instants, stamps = _timestamps(rng, rng.choice(N_DAYS, size=n, p=day_weights))
    order = np.argsort(instants, kind="stable")
    return [
        _ids(rng, n),
        stamps.take(order),
        pop.ids_arrow.take(pa.array(users[order])),
        _categories(names, name[order]),
    ]


def _user_levels(rng: np.random.Generator, pop: Population) -> pa.Array:
    """Level changes per user, unique per (user, instant), written in shuffled order."""
    n_users = len(pop.ids)
    changes = rng.choice(len(LEVEL_CHANGES), size=n_users, p=LEVEL_CHANGES)
    users = np.repeat(np.arange(n_users), changes)
    days = rng.integers(0, N_DAYS, size=len(users))
    same_day = (changes >= 2) & (rng.random(n_users) < SAME_DAY_LEVEL_SHARE)
    first_day = np.zeros(n_users, dtype=np.int64)
    first_day[users[::-1]] = days[::-1]  # any one of the user's days
    days = np.where(same_day[users], first_day[users], days)
    instants, stamps = _timestamps(rng, days)
    order = np.lexsort((instants, users))
    _, keep = np.unique(np.stack([users[order], instants[order]]), axis=1, return_index=True)
    order = order[np.sort(keep)]
    users, stamps = users[order], stamps.take(pa.array(order))
    levels = _level_walk(rng, users)
    jurisdiction = _pick(rng, JURISDICTIONS, n_users)[users]
    lines = _join(
        pop.ids_arrow.take(pa.array(users)),
        _categories(list(JURISDICTIONS), jurisdiction),
        pa.array(levels).cast(pa.large_string()),
        stamps,
        sep=",",
    )
    return lines.take(pa.array(rng.permutation(len(lines))))


def _level_walk(rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
    """Levels 0..3 along each user's (time-ordered, contiguous) rows: mostly upgrades."""
    steps = rng.choice([1, 2, -1], size=len(users), p=[0.7, 0.1, 0.2])
    starts = np.r_[True, users[1:] != users[:-1]]
    steps[starts] = rng.choice([0, 1], size=starts.sum(), p=[0.6, 0.4])
    walk = np.cumsum(steps)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(users)), 0))
    walk = walk - walk[group_start] + steps[group_start]
    return np.clip(walk, 0, 3)


def _ids(rng: np.random.Generator, n: int) -> pa.Array:
    """Increasing integer ids with small gaps, like the real files' ids."""
    ids = 1_000 + np.cumsum(rng.integers(1, 4, size=n))
    return pa.array(ids).cast(pa.large_string())


def _timestamps(rng: np.random.Generator, days: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Random instants on the given day offsets: (epoch microseconds, `...HH:MM:SS.ff+00`)."""
    n = len(days)
    days = days.astype(np.int64)
    second_of_day = rng.integers(0, 86_400, n)
    digits = rng.choice(len(FRACTION_DIGITS), size=n, p=FRACTION_DIGITS)
    micros = rng.integers(0, 10**digits) * 10 ** (6 - digits)
    # Lookup tables beat strftime by far: there are only N_DAYS dates and 86,400 times.
    whole = _join(_DATES.take(pa.array(days)), " ", _TIMES.take(pa.array(second_of_day)))
    seconds = START_EPOCH + days * 86_400 + second_of_day
    fraction = pc.utf8_rtrim(pc.utf8_lpad(_str(micros), 6, "0"), "0")
    dotted = pc.if_else(pc.equal(fraction, ""), _scalar(""), _join(".", fraction))
    return seconds * 1_000_000 + micros, _join(whole, dotted, "+00")


def _amounts(rng: np.random.Generator, currency: np.ndarray) -> pa.Array:
    """Positive amounts with 18 decimal places, scaled per currency."""
    spec = np.array([v[2:] for v in CURRENCIES.values()])
    median, sigma, decimals = spec[currency, 0], spec[currency, 1], spec[currency, 2]
    log_value = np.clip(median + sigma * rng.standard_normal(len(currency)), -8, 9)
    value = 10**log_value
    magnitude = 10 ** np.floor(log_value)
    rounded = rng.random(len(currency)) < ROUND_AMOUNT_SHARE
    value = np.where(rounded, np.maximum(np.rint(value / magnitude), 1) * magnitude, value)
    unit = (10**decimals).astype(np.int64)
    quanta = np.maximum(np.rint(value * unit), 1).astype(np.int64)
    whole, frac8 = quanta // unit, (quanta % unit) * (10**8 // unit)
    outlier = rng.random(len(currency)) < OUTLIER_SHARE
    whole = np.where(outlier, rng.integers(10**9, 10**13, len(currency)), whole)
    frac8 = np.where(outlier, 0, frac8)
    return _join(_str(whole), ".", pc.utf8_lpad(_str(frac8), 8, "0"), "0000000000")


_DATES = pa.array(
    [(START_DAY + timedelta(days=d)).isoformat() for d in range(N_DAYS)], pa.large_string()
)
_TIMES = pa.array(
    [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)], pa.large_string()
)


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.large_string())


def _join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    args = [_scalar(p) if isinstance(p, str) else p.cast(pa.large_string()) for p in parts]
    return pc.binary_join_element_wise(*args, _scalar(sep))


# --- writing ------------------------------------------------------------------------


def _write(path: Path, snapshot: Snapshot, rng: np.random.Generator, defects: bool) -> None:
    """Write header, the users file's leading blank line, and the body, `WRITE_LINES` lines
    at a time: the lines with their line ends joined in one go were a second copy of the
    file in memory (5 GB for the events at scale 100)."""
    newline = "\r\n" if defects else "\n"
    head = ("\ufeff" if defects else "") + ",".join(snapshot.columns) + newline
    if snapshot.name == "users":
        head += newline
    body = _interleave(snapshot, rng)
    with path.open("wb") as handle:
        handle.write(head.encode())
        for start in range(0, len(body), WRITE_LINES):
            handle.write(_bytes(_join(body.slice(start, WRITE_LINES), "", sep=newline)))


def _interleave(snapshot: Snapshot, rng: np.random.Generator) -> pa.Array:
    """Clean lines in order, with the injected lines dropped in at random positions."""
    n, k = len(snapshot.lines), len(snapshot.injected)
    if not k:
        return snapshot.lines
    injected = pa.array([line for line, _ in snapshot.injected], pa.large_string())
    position = np.concatenate([np.arange(n) * 2 + 1, rng.integers(0, n + 1, size=k) * 2])
    tiebreak = np.concatenate([np.zeros(n), rng.random(k)])
    order = np.lexsort((tiebreak, position))
    combined = pa.concat_arrays([snapshot.lines.cast(pa.large_string()), injected])
    return combined.take(pa.array(order))


def _bytes(lines: pa.Array) -> pa.Buffer:
    """The concatenated UTF-8 of a null-free large_string array, without a copy."""
    _, offsets_buf, data = lines.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[lines.offset :]
    start, end = int(offsets[0]), int(offsets[len(lines)])
    return data.slice(start, end - start)


# --- defects ------------------------------------------------------------------------

# A user id outside the population: twice in the users file (conflicting), and referenced by
# injected rows of the other files.
CONFLICTING_USER = "c0ffee" * 5 + "00"
# Control characters that make a line malformed (SPEC 2 rule 6), one per injected row.
CONTROL_CHARACTERS = ("\x01", "\x0b", "\r", "\x7f", "\x85", "\u2028")


class _RowMaker:
    """Raw lines for injected rows: fresh ids, clean users, valid values unless spoiled."""

    def __init__(self, name: str, rng: np.random.Generator, pop: Population, first_id: int):
        self.columns = SNAPSHOTS[name][1]
        self.rng = rng
        self.users = pop.ids
        self.next_id = first_id

    def choice(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def instant(self) -> datetime:
        seconds = int(self.rng.integers(0, N_DAYS * 86_400))
        micros = int(self.rng.integers(0, 1000)) * 1000
        return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micros)

    def valid(self) -> dict[str, str]:
        """A row that a correct loader keeps, with an id used by no other row."""
        self.next_id += int(self.rng.integers(1, 5))
        values = {
            "id": str(self.next_id),
            "event_timestamp": _format_instant(self.instant()),
            "user_id": self.choice(self.users),
            "amount": f"{int(self.rng.integers(1, 5000))}.{int(self.rng.integers(100)):02d}"
            + "0" * 16,
            "currency": self.choice(["mxn", "usd", "btc", "eth", "brl", "ars"]),
            "tx_status": self.choice(["complete", "failed"]),
            "interface": self.choice(list(INTERFACES)),
            "event_name": self.choice(list(EVENT_NAMES)),
            "jurisdiction": self.choice(list(JURISDICTIONS)),
            "level": str(self.rng.integers(0, 4)),
        }
        return {column: values[column] for column in self.columns}

    def line(self, **changes: str) -> str:
        """A valid row's line with some fields replaced by raw CSV text."""
        return ",".join({**self.valid(), **changes}.values())


def _format_instant(
    instant: datetime, offset: timedelta = timedelta(0), suffix: str = "+00"
) -> str:
    """`instant` written in local time at `offset`, with `suffix` naming that offset."""
    local = (instant + offset).replace(tzinfo=None)
    text = local.isoformat(sep=" ", timespec="microseconds").rstrip("0").rstrip(".")
    return text + suffix


def _inject_defects(snapshot: Snapshot, rng: np.random.Generator, pop: Population) -> None:
    """Append every applicable bad-row kind, several times each, to `snapshot.injected`."""
    if snapshot.name == "users":
        snapshot.lines, snapshot.injected = _user_defects(snapshot.lines, rng, pop)
        return
    # Clean ids stay below 1,000 + 3 per row; injected ids start well above them.
    first_id = 10 ** max(8, len(str(1_000 + 3 * len(snapshot.lines))))
    maker = _RowMaker(snapshot.name, rng, pop, first_id=first_id)
    columns = snapshot.columns
    rows = _blank_rows() + _malformed_rows(maker) + _missing_field_rows(maker)
    if "id" in columns:
        rows += [(maker.line(id=bad), "bad_id") for bad in ("abc", "1.5", "7a", "-5")]
    rows += _bad_timestamp_rows(maker)
    if "amount" in columns:
        bad_amounts = ("ten", '"1,5"', "NaN", "1e20", "-1e400", "100000000000000000000")
        rows += [(maker.line(amount=bad), "bad_amount") for bad in bad_amounts]
        rows += [
            (maker.line(amount=bad), "non_positive_amount")
            for bad in ("0", "-10", "-10.000000000000000000", "0.000000000000000000")
        ]
    if "currency" in columns:
        bad_currencies = ("m", "abcdefghijklm", "mx-n", "mxn');drop table raw.users;--")
        rows += [(maker.line(currency=bad), "bad_currency") for bad in bad_currencies]
    rows += [
        (maker.line(user_id=user), "quarantined_user") for user in (CONFLICTING_USER, "not-a-user")
    ]
    rows += [(maker.line(user_id=user), "unknown_user") for user in _unknown_users(rng, pop, 3)]
    if "id" in columns:
        rows += _conflicting_rows(maker)
    rows += _normalisation_rows(maker)
    rows += _duplicate_rows(rng, snapshot.lines, rows)
    snapshot.injected = rows


def _blank_rows() -> list[tuple[str, str]]:
    return [(text, BLANK) for text in ("", "", "   ", "\t", " \t ")]


def _malformed_rows(maker: _RowMaker) -> list[tuple[str, str]]:
    rows = []
    for control in CONTROL_CHARACTERS:  # anywhere in the line: here in its middle
        line = maker.line()
        rows.append((line[: len(line) // 2] + control + line[len(line) // 2 :], "malformed_row"))
    for extra in ("", "extra", "1,2"):
        rows.append((maker.line() + "," + extra, "malformed_row"))
    for keep in (len(maker.columns) - 1, 1):
        rows.append((",".join(list(maker.valid().values())[:keep]), "malformed_row"))
    if "amount" in maker.columns:
        rows.append((maker.line(amount="1,5"), "malformed_row"))  # unquoted: one field too many
    return rows


def _missing_field_rows(maker: _RowMaker) -> list[tuple[str, str]]:
    rows = []
    empties = ["", "   ", '""', '" "', "\t"]
    for i, column in enumerate([*maker.columns, "user_id"]):
        rows.append((maker.line(**{column: empties[i % len(empties)]}), "missing_field"))
    rows.append((",".join([""] * len(maker.columns)), "missing_field"))
    return rows


def _bad_timestamp_rows(maker: _RowMaker) -> list[tuple[str, str]]:
    bad = [
        "10/01/2021 14:11:05",
        "2021-02-30 10:00:00+00",
        "2021-01-01 25:00:00+00",
        "yesterday",
        "2021-03-01 10:00:00",  # no offset: SPEC 2 requires one
        "2021-03-01 10:61:00+00",
    ]
    return [(maker.line(event_timestamp=text), "bad_timestamp") for text in bad]


def _unknown_users(rng: np.random.Generator, pop: Population, n: int) -> list[str]:
    """Well-formed user ids that are not in the users file."""
    known = set(pop.ids.tolist())
    fresh: list[str] = []
    while len(fresh) < n:
        fresh += [u for u in _hex_ids(rng, n).tolist() if u not in known and u not in fresh]
    return fresh[:n]


def _conflicting_rows(maker: _RowMaker) -> list[tuple[str, str]]:
    """Groups of otherwise valid rows sharing one id, each differing in some field."""
    reason = "conflicting_duplicate_id"
    variable = "amount" if "amount" in maker.columns else "event_name"
    rows = []
    for size, field_name in ((2, variable), (2, "event_timestamp"), (3, "user_id")):
        base = maker.valid()
        seen = {base[field_name]}
        rows.append((",".join(base.values()), reason))
        while len(seen) < size:
            other = maker.valid()[field_name]
            if other not in seen:
                seen.add(other)
                rows.append((",".join({**base, field_name: other}.values()), reason))
    base = maker.valid()  # differs only in case/whitespace: still not an exact copy
    changed = {"currency": "MXN"} if "currency" in base else {"event_name": " login"}
    base.update({"currency": "mxn"} if "currency" in base else {"event_name": "login"})
    rows.append((",".join(base.values()), reason))
    rows.append((",".join({**base, **changed}.values()), reason))
    return rows


def _normalisation_rows(maker: _RowMaker) -> list[tuple[str, str]]:
    """Clean rows whose values need trimming, lower-casing or a UTC conversion."""
    instant = maker.instant()
    stamps = [
        _format_instant(instant, timedelta(hours=-6), "-06"),
        _format_instant(instant, timedelta(hours=5, minutes=30), "+05:30"),
        _format_instant(instant, timedelta(hours=-3), "-0300"),
        _format_instant(instant, suffix="Z").replace(" ", "T"),
    ]
    rows = [maker.line(event_timestamp=stamp) for stamp in stamps]
    rows.append(maker.line(user_id=f'"{maker.choice(maker.users)}"'))
    if "id" in maker.columns:
        quoted = maker.valid()
        quoted["id"] = f'"{quoted["id"]}"'
        rows.append(",".join(quoted.values()))
    if "currency" in maker.columns:
        rows += [
            maker.line(currency=" MXN"),
            maker.line(currency="USD"),
            maker.line(currency='"btc"', tx_status="COMPLETE"),
            maker.line(tx_status="Failed"),
            maker.line(amount="6.8e12"),
        ]
    if "event_name" in maker.columns:
        rows += [maker.line(event_name="  login "), maker.line(event_name="Login")]
    if "level" in maker.columns:
        rows += [maker.line(level='"2"'), maker.line(jurisdiction='"mx"')]
    return [(row, CLEAN) for row in rows]


def _duplicate_rows(
    rng: np.random.Generator, lines: pa.Array, injected: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Exact copies: of clean lines (one of them twice) and of some injected rows."""
    picks = rng.integers(0, len(lines), size=3) if len(lines) else []
    copies = [lines[int(i)].as_py() for i in picks]
    copies += copies[:1]
    tags_wanted = ("bad_timestamp", "conflicting_duplicate_id", "missing_field", "bad_user_id")
    for tag in tags_wanted:
        copies += [line for line, t in injected if t == tag][:1]
    return [(line, DUPLICATE) for line in copies]


def _user_defects(
    lines: pa.Array, rng: np.random.Generator, pop: Population
) -> tuple[pa.Array, list[tuple[str, str]]]:
    """Users-file defects; two clean users move into the injected rows, quoted/padded."""
    moved = np.sort(rng.choice(len(lines), size=2, replace=False))  # MIN_USERS >= 2
    keep = np.setdiff1d(np.arange(len(lines)), moved)
    quoted, padded = (lines[int(i)].as_py() for i in moved)
    fresh = _unknown_users(rng, pop, 5)
    rows = [*_blank_rows()[1:], (f'"{quoted}"', CLEAN), (f"  {padded} ", CLEAN)]
    rows += [(f"{fresh[0]},{fresh[1]}", "malformed_row"), (f"{fresh[2]},", "malformed_row")]
    rows += [(",".join(fresh[:3]), "malformed_row")]
    rows += [(text, "missing_field") for text in ('""', '"   "', '" \t "')]
    # one user written twice, once with a trailing space: the same trimmed id, conflicting;
    # the other files' rows of this user are quarantined_user
    rows += [
        (CONFLICTING_USER, "conflicting_duplicate_id"),
        (f"{CONFLICTING_USER} ", "conflicting_duplicate_id"),
    ]
    rows += [(f"{fresh[0][:16]}\x7f{fresh[0][16:]}", "malformed_row")]
    bad_ids = [
        fresh[3][:31],
        fresh[3] + "a",
        fresh[4][:31] + "g",
        "not-a-user",
        f"{fresh[4][:8]}-{fresh[4][8:12]}-{fresh[4][12:16]}-{fresh[4][16:20]}-{fresh[4][20:]}",
    ]
    rows += [(text, "bad_user_id") for text in bad_ids]
    kept_lines = lines.take(pa.array(keep))
    rows += _duplicate_rows(rng, kept_lines, rows)
    return kept_lines, rows
