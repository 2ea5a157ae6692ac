-- The day of the latest counted (complete) deposit of the loaded data (core.transactions),
-- to tell whether an answer as of the last built day misses later deposits. A backward scan
-- of index transactions_by_day (occurred_on, kind). Null: no counted deposit.
with final as (
    select max(occurred_on) as answer
    from core.transactions
    where kind = 'deposit' and status = 'complete'
)

select * from final
