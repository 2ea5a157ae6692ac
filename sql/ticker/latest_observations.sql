-- One row per configured book: its newest non-gap record, observed or held (found backwards
-- along the primary key, so the scan stops at the first priced second) and how many wall
-- seconds ago the sampler wrote it (a held record keeps its snapshot's old received_at).
-- Null when the book has no observation yet.

with

books as (
    select unnest(%(books)s::text[]) as book
),

final as (
    select
        books.book,
        latest.orderbook_timestamp,
        latest.recorded_at,
        extract(epoch from now() - latest.recorded_at)::double precision as age_seconds
    from books
    left join lateral (
        select
            observations.orderbook_timestamp,
            observations.recorded_at
        from ticker.spread_observations as observations
        where observations.book = books.book and not observations.is_gap
        order by observations.orderbook_timestamp desc
        limit 1
    ) as latest on true
)

select * from final
order by book
