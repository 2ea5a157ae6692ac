-- Q4: a user's latest login instant, as of the end of day D. Parameters: user_id, as_of
-- (null = latest built). No row: the user has no login on or before D.
with final as (
    select last_login_at as answer
    from marts.daily_logins
    where user_id = %(user_id)s and day <= coalesce(%(as_of)s::date, 'infinity')
    order by day desc
    limit 1
)

select * from final
