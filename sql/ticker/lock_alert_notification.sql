-- One undelivered notification, locked for delivery; nothing if it was delivered meanwhile or
-- another evaluator is delivering it right now.

select
    notification_id,
    event,
    sink,
    idempotency_key,
    message,
    attempts
from ticker.alert_notifications
where notification_id = %s and delivered_at is null
for update skip locked
