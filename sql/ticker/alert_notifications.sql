-- ticker.alert_notifications: the outbox, one row per alert event (opened, resolved) and sink.
-- Written with the alert in one transaction, delivered after commit, retried with backoff
-- until the sink acknowledges; the idempotency key lets a sink drop a repeated delivery.

create schema if not exists ticker;

create table if not exists ticker.alert_notifications (
    notification_id bigint generated always as identity primary key,
    alert_id bigint not null references ticker.spread_alerts (alert_id),
    event text not null,
    sink text not null,
    idempotency_key text not null,
    message text not null,

    -- delivery
    created_at timestamptz not null default clock_timestamp(),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default clock_timestamp(),
    delivered_at timestamptz,
    last_error text,

    unique (idempotency_key, sink),
    constraint alert_notifications_event check (event in ('opened', 'resolved')),
    constraint alert_notifications_sink check (sink in ('log', 'webhook'))
);

create index if not exists alert_notifications_due
    on ticker.alert_notifications (next_attempt_at) where delivered_at is null;
