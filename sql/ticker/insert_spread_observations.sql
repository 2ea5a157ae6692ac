-- One spread record (SPEC 6 plus provenance). Replays and restarts re-send seconds that
-- are already stored: the first write of a (book, second) wins and later ones change nothing.

insert into ticker.spread_observations (
    orderbook_timestamp,
    book,
    bid,
    ask,
    spread,
    source,
    exchange_at,
    received_at,
    is_gap,
    is_crossed,
    is_held
)
values (
    %(orderbook_timestamp)s,
    %(book)s,
    %(bid)s,
    %(ask)s,
    %(spread)s,
    %(source)s,
    %(exchange_at)s,
    %(received_at)s,
    %(is_gap)s,
    %(is_crossed)s,
    %(is_held)s
)
on conflict (book, orderbook_timestamp) do nothing
