-- DuckDB macros of the snapshot validation (SPEC 2 rules 4-8). Session time zone: UTC.

-- Whitespace that trimming and blank-line detection remove: space, tab, VT, FF, CR.
create or replace macro strip(s) as trim(s, E' \t\x0b\x0c\r');
-- Cheap test first: only a line starting with a character below '!' (or empty) can be
-- blank, and a bytewise comparison rejects the others without looking further.
create or replace macro is_blank(s) as s < '!' and strip(s) = '';
-- Whether any field of a line may need trimming (most lines need none and skip the work).
create or replace macro needs_strip(line) as
    contains(line, ' ,') or contains(line, ', ') or starts_with(line, ' ')
    or ends_with(line, ' ') or contains(line, chr(9)) or contains(line, chr(11))
    or contains(line, chr(12)) or contains(line, chr(13));

-- A control character anywhere in a line makes it malformed (SPEC 2 rule 6); tab is allowed.
create or replace macro has_control(s) as
    regexp_matches(s, '[\x00-\x08\x0b-\x1f\x7f-\x9f\x{2028}\x{2029}]');

-- `YYYY-MM-DD HH:MM:SS` (or `T`), optional fraction of any length, then `Z`, `±HH`,
-- `±HH:MM` or `±HHMM` with offsets up to ±18:59; a real calendar day of year 1 or later.
-- Fractions beyond microseconds round half-up, as Postgres does.
create or replace macro utc_instant(s) as
    case
        when s[1:4] = '0000' then null
        when regexp_full_match(
            s,
            '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)'
        ) then try_cast(s as timestamptz)
        when regexp_full_match(
            s,
            '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7,}(Z|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)'
        ) then try_cast(regexp_replace(s, '(\.[0-9]{6})[0-9]+', '\1') as timestamptz)
            + to_microseconds(if(regexp_extract(s, '\.[0-9]{6}([0-9])', 1) >= '5', 1, 0))
    end;

-- A decimal or scientific number: 12, -1.5, .5, 6.8e12 (exponents up to three digits).
create or replace macro is_number(s) as
    regexp_full_match(s, '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?');

-- |amount| >= 1e20 (it would not fit numeric(38,18)), decided exactly on the text (of a
-- number: is_number holds). Most amounts have no exponent and at most 20 characters before
-- the point: below the bound, known without string functions. Other amounts without an
-- exponent: by their digits before the point once leading zeros are dropped (21 or more).
-- With an exponent: by the power of ten of the first significant digit.
create or replace macro leading_zeros(digits) as length(digits) - length(ltrim(digits, '0'));
create or replace macro significant_power(s) as
    length(regexp_extract(s, '^[+-]?([0-9]*)', 1))
    - leading_zeros(replace(regexp_extract(s, '^[+-]?([0-9]*\.?[0-9]*)', 1), '.', ''))
    - 1
    + coalesce(try_cast(regexp_extract(s, '[eE]([+-]?[0-9]+)$', 1) as integer), 0);
create or replace macro is_too_large(s) as
    case
        when contains(s, 'e') or contains(s, 'E') then
            ltrim(replace(regexp_extract(s, '^[+-]?([0-9]*\.?[0-9]*)', 1), '.', ''), '0') <> ''
            and significant_power(s) >= 20
        when coalesce(nullif(strpos(s, '.'), 0) - 1, strlen(s)) <= 20 then false
        else length(ltrim(split_part(ltrim(s, '+-'), '.', 1), '0')) > 20
    end;

-- A currency code after trimming and lower-casing.
create or replace macro is_currency(s) as regexp_full_match(s, '[a-z0-9]{2,12}');

-- Zero or negative, decided on the text (of a number) so that 1e-400 stays positive: a
-- minus sign, or no digit but 0 before the exponent. Most amounts start with a digit 1-9.
create or replace macro is_non_positive(s) as
    case
        when s[1] between '1' and '9' then false
        when s[1] = '-' then true
        else ltrim(split_part(lower(ltrim(s, '+')), 'e', 1), '0.') = ''
    end;
