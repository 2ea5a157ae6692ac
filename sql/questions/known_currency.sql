-- Whether a currency occurs in a clean transaction of the loaded snapshots (core.currencies),
-- so that an answer about an unknown currency can say so. Parameter: currency (normalised).
with final as (
    select exists (select from core.currencies where currency = %(currency)s) as answer
)

select * from final
