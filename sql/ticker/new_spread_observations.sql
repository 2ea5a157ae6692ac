-- Covered observations the alert evaluator has not evaluated: observation_id in (after, through],
-- ordered as the episode rules need them (per book, by the observation's own timestamp).
-- Gap rows are not observations: they neither open nor close episodes.

select
    observation_id,
    book,
    orderbook_timestamp,
    spread
from ticker.spread_observations
where
    observation_id > %(after)s
    and observation_id <= %(through)s
    and not is_gap
order by book, orderbook_timestamp, observation_id
