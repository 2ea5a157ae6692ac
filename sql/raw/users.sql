-- One row per clean line of user_id_sample_data.csv.
create table if not exists raw.users (
    user_id text not null,
    source_line bigint not null
);
