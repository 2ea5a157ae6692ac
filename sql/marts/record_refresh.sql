-- Record, in the rebuilding transaction, that it rebuilt the mart over [window_start, window_end).
insert into marts.refreshes as refreshes (
    mart, refreshed_by, refreshed_at, window_start, window_end
)
values (
    %(mart)s, pg_current_xact_id(), clock_timestamp(), %(window_start)s, %(window_end)s
)
on conflict (mart) do update
set
    refreshed_by = excluded.refreshed_by,
    refreshed_at = excluded.refreshed_at,
    window_start = excluded.window_start,
    window_end = excluded.window_end
