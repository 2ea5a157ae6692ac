-- Q4 without a day: a user's latest login instant in the loaded data, which may be later
-- than the last day the marts are built for: core.users.last_login_at, one probe of its key.
-- Parameter: user_id. Null: the user has no login, or is not a clean user.
with final as (
    select (select last_login_at from core.users where user_id = %(user_id)s) as answer
)

select * from final
