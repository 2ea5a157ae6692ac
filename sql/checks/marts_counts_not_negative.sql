-- Template for every mart's counts_not_negative check: no row of marts.{table} in the window
-- [window_start, window_end) of {period} has a negative count. {counts} lists the mart's
-- declared count_ columns (at least one), so a new count_ column is tested without naming it.
-- Placeholders in braces are identifiers composed by bitso_platform.defs.marts.checks.
with final as (
    select
        count(*) as rows,
        count(*) filter (where least({counts}) < 0) as rows_with_negative_counts
    from marts.{table}
    where {period} >= %(window_start)s and {period} < %(window_end)s
)

select *, rows_with_negative_counts = 0 as passed from final
