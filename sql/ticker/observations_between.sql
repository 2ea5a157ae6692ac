-- Whether ticker.spread_observations holds any row in [from_at, to_at).

select exists (
    select
    from ticker.spread_observations
    where orderbook_timestamp >= %(from_at)s and orderbook_timestamp < %(to_at)s
)
