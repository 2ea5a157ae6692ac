-- Session settings of every mart's rebuild transaction, run before its SQL. Backfills group
-- millions of nearly unique keys: sorting in memory beats hashing (a state per group, spilled
-- to disk) and parallel workers (which ship those states between processes); a mart of few
-- groups (`Mart.few_groups`) is hashed instead. The indexes a full rebuild drops are built
-- again, sorted, at the end. No JIT: compiling a mart's statements took 0.3-1.4 s each on one
-- day at scale 100 (daily_user_features 3.2 -> 2.0 s) and saved nothing over the full range.
set local work_mem = '256MB';
set local maintenance_work_mem = '512MB';
set local enable_hashagg = off;
set local max_parallel_workers_per_gather = 0;
set local jit = off;
