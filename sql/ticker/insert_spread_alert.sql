-- A new alert episode (possibly already resolved within the same evaluation).

insert into ticker.spread_alerts (
    book,
    threshold,
    opened_at,
    opening_spread,
    peak_spread,
    peak_at,
    resolved_at,
    resolving_spread,
    opened_observation_id,
    resolved_observation_id,
    resolved_recorded_at
)
values (
    %(book)s,
    %(threshold)s,
    %(opened_at)s,
    %(opening_spread)s,
    %(peak_spread)s,
    %(peak_at)s,
    %(resolved_at)s,
    %(resolving_spread)s,
    %(opened_observation_id)s,
    %(resolved_observation_id)s,
    case when %(resolved_at)s::timestamptz is not null then clock_timestamp() end
)
returning alert_id
