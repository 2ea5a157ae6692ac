-- One row per clean line of withdrawals_sample_data.csv.
create table if not exists raw.withdrawals (
    id bigint not null,
    occurred_at timestamptz not null,
    user_id text not null,
    amount text not null,  -- exactly as written; validated positive decimal
    interface text not null,
    currency text not null,
    tx_status text not null,
    source_line bigint not null
);
