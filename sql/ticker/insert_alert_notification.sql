-- One notification of an alert event for one sink, queued for delivery after commit.
-- A repeated event (same idempotency key and sink) is already queued: nothing changes.

insert into ticker.alert_notifications (
    alert_id,
    event,
    sink,
    idempotency_key,
    message
)
values (
    %(alert_id)s,
    %(event)s,
    %(sink)s,
    %(idempotency_key)s,
    %(message)s
)
on conflict (idempotency_key, sink) do nothing
