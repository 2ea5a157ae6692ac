-- Q4 without a day: a user's latest login instant in the loaded data (core.logins), which
-- may be later than the last day the marts are built for. One probe of index logins_by_user
-- (user_id, logged_in_at). Parameter: user_id. Null: the user has no login.
with final as (
    select max(logged_in_at) as answer
    from core.logins
    where user_id = %(user_id)s
)

select * from final
