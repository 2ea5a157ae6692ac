-- Whether a user id is a clean user of the loaded users snapshot (core.users), so that an
-- answer about an unknown user can say so. Parameter: user_id.
with final as (
    select exists (select from core.users where user_id = %(user_id)s) as answer
)

select * from final
