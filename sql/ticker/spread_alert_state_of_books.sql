-- The episode state of the given books: one row per book and threshold, with the open episode.

select
    state.book,
    state.threshold,
    state.evaluated_through,
    state.calm_since,
    alert.alert_id,
    alert.opened_at,
    alert.opening_spread,
    alert.opened_observation_id,
    alert.peak_spread,
    alert.peak_at
from ticker.spread_alert_state as state
left join ticker.spread_alerts as alert
    on alert.alert_id = state.open_alert_id
where state.book = any(%(books)s)
