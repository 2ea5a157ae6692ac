-- Q8: total amount of the counted (complete) deposits of currency C on day D, exact; 0 when
-- none. Parameters: currency (trimmed and lower-cased like the snapshots), day.
with final as (
    select coalesce(sum(amount_deposits), 0) as answer
    from marts.daily_currency_totals
    where day = %(day)s and currency = lower(trim(%(currency)s))
)

select * from final
