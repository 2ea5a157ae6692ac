-- The lake records of the windows in [window_start, window_end): one row per book and second
-- (SPEC 6 columns plus flags), for every configured book and every book observed in the range.
-- A second the sampler stored as a gap, or did not store at all (no sampler was running), is a
-- gap record with null prices: nothing is invented. A held second (the book's last snapshot,
-- vouched for by a live connection) keeps its prices and is flagged is_held.

with

observations as (
    select *
    from ticker.spread_observations
    where
        orderbook_timestamp >= %(window_start)s
        and orderbook_timestamp < %(window_end)s
),

books as (
    select unnest(%(books)s::text[]) as book
    union
    select distinct book from observations
),

seconds as (
    select generate_series(
        %(window_start)s::timestamptz,
        %(window_end)s::timestamptz - interval '1 second',
        interval '1 second'
    ) as second_at
),

final as (
    select
        -- the SPEC 6 record
        to_char(
            seconds.second_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
        ) as orderbook_timestamp,
        books.book,
        observations.bid,
        observations.ask,
        observations.spread,

        -- flags
        coalesce(observations.is_gap, true) as is_gap,
        coalesce(observations.is_held, false) as is_held,
        observations.observation_id is not null as is_sampled,
        coalesce(observations.is_crossed, false) as is_crossed,

        -- provenance
        observations.source
    from books
    cross join seconds
    left join observations
        on
            observations.book = books.book
            and observations.orderbook_timestamp = seconds.second_at
)

select * from final
order by book, orderbook_timestamp
