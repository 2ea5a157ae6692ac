-- Q6: distinct currencies of the counted (complete) deposits on day D. Parameter: day.
-- One row per currency, sorted.
with final as (
    select currency
    from marts.daily_currency_totals
    where day = %(day)s and count_deposits > 0
)

select * from final order by currency collate "C"
