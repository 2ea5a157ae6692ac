-- Alert episodes raised so far (SPEC 4 `bitso ticker alerts`): one row per episode, in the
-- order they opened. Timestamps are the observations' own.

select
    book,
    threshold,
    opened_at,
    opening_spread,
    peak_spread,
    resolved_at
from ticker.spread_alerts
order by opened_at, book, threshold
