-- Q5: a user's login events dated from day D1 to day D2, both inclusive.
-- Parameters: user_id, from_day, to_day.
with final as (
    select coalesce(sum(count_logins), 0)::bigint as answer
    from marts.daily_logins
    where user_id = %(user_id)s and day between %(from_day)s and %(to_day)s
)

select * from final
