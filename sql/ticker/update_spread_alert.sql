-- An open episode's peak, and its resolution once it resolves.

update ticker.spread_alerts
set
    peak_spread = %(peak_spread)s,
    peak_at = %(peak_at)s,
    resolved_at = %(resolved_at)s,
    resolving_spread = %(resolving_spread)s,
    resolved_observation_id = %(resolved_observation_id)s,
    resolved_recorded_at = case
        when %(resolved_at)s::timestamptz is not null then clock_timestamp()
    end
where alert_id = %(alert_id)s and resolved_at is null
