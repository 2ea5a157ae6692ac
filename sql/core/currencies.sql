-- core.currencies: one row per currency seen in clean transactions.
drop table if exists core.currencies__next;

create table core.currencies__next as
with final as (
    select
        currency,
        min(occurred_on) as first_seen_on,
        max(occurred_on) as last_seen_on,
        count(*) filter (where kind = 'deposit') as count_deposits,
        count(*) filter (where kind = 'withdrawal') as count_withdrawals
    from core.transactions
    group by currency
)

select * from final;

drop table if exists core.currencies;
alter table core.currencies__next rename to currencies;
alter table core.currencies add primary key (currency);
