-- One row per rejected distinct row of the last load of each snapshot: its raw text,
-- where it came from and the first SPEC 2 reason that rejected it.
create table if not exists raw.quarantine (
    snapshot text not null,
    source text not null,
    line_no bigint not null,
    reason text not null,
    raw_line text not null,
    primary key (snapshot, line_no)
);
