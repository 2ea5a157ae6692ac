-- The team roles, created once per Postgres cluster (roles are cluster-wide). They can log in
-- but have no password here: operators set one (`alter role ... password`) or map them in
-- pg_hba.conf. Readers get SELECT on the marts their team uses and nothing else.
do $$
declare
    role_name text;
begin
    foreach role_name in array array[
        'bi_reader', 'ml_reader', 'experimentation_reader', 'marketing_reader',
        'platform_writer'
    ]
    loop
        if not exists (select 1 from pg_roles where rolname = role_name) then
            execute format('create role %I login', role_name);
        end if;
    end loop;
end
$$;
