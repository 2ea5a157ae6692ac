-- One row per clean line of event_sample_data.csv.
create table if not exists raw.events (
    id bigint not null,
    occurred_at timestamptz not null,
    user_id text not null,
    event_name text not null,
    source_line bigint not null
);
