-- One row per load of a snapshot file: where every line went.
-- rows_read = clean + sum(quarantined) + exact_duplicates + blank.
create table if not exists raw.snapshot_loads (
    load_id bigint generated always as identity primary key,
    snapshot text not null,
    source text not null,
    loaded_at timestamptz not null default now(),
    rows_read bigint not null,
    clean bigint not null,
    quarantined jsonb not null,
    exact_duplicates bigint not null,
    blank bigint not null
);
create index if not exists snapshot_loads_latest on raw.snapshot_loads (snapshot, load_id desc);
