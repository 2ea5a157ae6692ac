-- What the in-memory deposit history of Q2/Q3 was loaded from: this database, the file of
-- core.users (each load truncates and refills it, which gives it a new file) and the last
-- transaction that rebuilt marts.deposit_ordinals. When any of them changes, the history is
-- loaded again.
select
    (select oid from pg_database where datname = current_database()) as database_oid,
    pg_relation_filenode('core.users') as users_file,
    (select refreshed_by::text from marts.refreshes where mart = 'deposit_ordinals') as refreshed_by
