-- The episode state of one book and threshold after an evaluation.

insert into ticker.spread_alert_state (
    book,
    threshold,
    evaluated_through,
    open_alert_id,
    calm_since
)
values (
    %(book)s,
    %(threshold)s,
    %(evaluated_through)s,
    %(open_alert_id)s,
    %(calm_since)s
)
on conflict (book, threshold) do update
set
    evaluated_through = excluded.evaluated_through,
    open_alert_id = excluded.open_alert_id,
    calm_since = excluded.calm_since
