-- One row per clean line of deposit_sample_data.csv.
create table if not exists raw.deposits (
    id bigint not null,
    occurred_at timestamptz not null,
    user_id text not null,
    amount text not null,  -- exactly as written; validated positive decimal
    currency text not null,
    tx_status text not null,
    source_line bigint not null
);
