-- Q1: active users on day D: distinct users with at least one counted (complete) deposit or
-- withdrawal on D. Parameter: day. No row: day D is not built.
with final as (
    select count_active_users as answer
    from marts.daily_kpis
    where day = %(day)s
)

select * from final
