-- Second database on the compose Postgres: the warehouse (the first, from POSTGRES_DB,
-- holds Dagster's instance storage).
create database warehouse;
