-- One row per clean line of user_level_sample_data.csv (optional file).
create table if not exists raw.user_levels (
    user_id text not null,
    jurisdiction text not null,
    level text not null,
    occurred_at timestamptz not null,
    source_line bigint not null
);
