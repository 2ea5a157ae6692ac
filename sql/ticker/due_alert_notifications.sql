-- Notifications due for delivery to the given sinks, oldest event first.

select notification_id
from ticker.alert_notifications
where
    delivered_at is null
    and next_attempt_at <= clock_timestamp()
    and sink = any(%(sinks)s)
order by notification_id
limit %(limit)s
