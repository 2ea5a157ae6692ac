-- The stats rows of the windows starting in [begin, end), in time then book order.

select
    window_start,
    book,
    count_records,
    coverage,
    max_spread
from ticker.spread_window_stats
where window_start >= %(begin)s and window_start < %(end)s
order by window_start, book
