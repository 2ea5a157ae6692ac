-- The UTC days that have a partition of ticker.spread_observations (named
-- spread_observations_YYYYMMDD), oldest first.

select to_date(right(partition.relname, 8), 'YYYYMMDD') as day
from pg_inherits
inner join pg_class as partition on pg_inherits.inhrelid = partition.oid
where pg_inherits.inhparent = 'ticker.spread_observations'::regclass
order by day
