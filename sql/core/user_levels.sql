-- core.user_levels: one row per user and validity interval of a level, from the optional
-- user-levels snapshot. Changes are ordered by time, then file line (several changes in
-- one instant: the later line wins); valid_to is the next change (null = still valid);
-- rank 1 is the user's latest level. "Level of U at instant T" is one index lookup.
drop table if exists core.user_levels__next;

create table core.user_levels__next as
with ordered as (
    select
        user_id,
        level,
        jurisdiction,
        occurred_at as valid_from,
        lead(occurred_at) over by_time as valid_to,
        row_number() over (
            partition by user_id order by occurred_at desc, source_line desc
        ) as rank
    from raw.user_levels
    window by_time as (partition by user_id order by occurred_at, source_line)
),

final as (
    select * from ordered
)

select * from final;

drop table if exists core.user_levels;
alter table core.user_levels__next rename to user_levels;
alter table core.user_levels add primary key (user_id, rank);
create index user_levels_as_of
    on core.user_levels (user_id, valid_from desc, rank) include (level, jurisdiction);
