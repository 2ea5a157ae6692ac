-- core.user_levels: one row per user and validity interval of a level, from the optional
-- user-levels snapshot. Changes are ordered by time, then file line (several changes in
-- one instant: the later line wins); valid_to is the next change (null = still valid);
-- rank 1 is the user's latest level. Both come from one ordering, latest first (the next
-- change is the row before it), so the changes are sorted once (4.2 M at scale 100), not
-- once per direction. "Level of U at instant T" is one index lookup.
-- Refilled in place (table: sql/core/schema.sql), inside the caller's transaction; the
-- indexes are built again after the insert. The window partitions by user in code point order
-- (collation "C"): the same partitions, sorted with byte comparisons, not the locale's.
truncate core.user_levels;
alter table core.user_levels drop constraint if exists user_levels_pkey;
drop index if exists core.user_levels_as_of;

insert into core.user_levels (user_id, level, jurisdiction, valid_from, valid_to, rank)
with ordered as (
    select
        user_id,
        level,
        jurisdiction,
        occurred_at as valid_from,
        lag(occurred_at) over latest_first as valid_to,
        row_number() over latest_first as rank
    from raw.user_levels
    window latest_first as (
        partition by user_id collate "C" order by occurred_at desc, source_line desc
    )
),

final as (
    select * from ordered
)

select * from final;

alter table core.user_levels add primary key (user_id, rank);
create index user_levels_as_of
    on core.user_levels (user_id, valid_from desc, rank) include (level, jurisdiction);
