-- core.logins holds exactly the clean events named as a login (parameter login_events).
-- Materialized: inlined, every count would run again for `passed` (twice the scans).
with final as materialized (
    select
        (select count(*) from raw.events where event_name = any(%(login_events)s)) as raw_logins,
        (select count(*) from core.logins) as core_logins
)

select *, raw_logins = core_logins as passed from final
