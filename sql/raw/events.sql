-- One row per clean line of event_sample_data.csv.
create table if not exists raw.events (
    id bigint not null,
    occurred_at timestamptz not null,
    user_id text not null,
    event_name text not null,
    source_line bigint not null
);

-- The UTC day of each event, as core.logins and its index compute it: the planner's
-- estimate of a range of days (ANALYZE keeps no statistics of a partial index's expressions).
create statistics if not exists raw.events_day on ((occurred_at at time zone 'UTC')::date)
from raw.events;
