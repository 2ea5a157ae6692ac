-- Whether a role already has a statement_timeout in the current database (set by a previous
-- apply, or by an operator with `alter role ... in database ... set statement_timeout`).
select exists (
    select 1
    from pg_db_role_setting as setting
    inner join pg_roles as role on role.oid = setting.setrole
    inner join pg_database as db on db.oid = setting.setdatabase
    where
        role.rolname = %(role)s
        and db.datname = current_database()
        and exists (
            select 1 from unnest(setting.setconfig) as config
            where config like 'statement\_timeout=%%'
        )
)
