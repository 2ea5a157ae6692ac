-- Session settings of the load's transaction, run once before its first step. The core
-- rebuilds scan, convert and write every row of a snapshot, and the planner charges 0.1 for
-- each row a parallel worker hands to the leader (parallel_tuple_cost): for a statement that
-- writes all its rows that outweighs the work the workers save, so core.transactions was
-- built on one core while the other idled (and core.logins, below a few million rows). A
-- row handed over costs about as much as a row copied: at 0.01 both cores scan and convert
-- (docs/benchmarks.md, "Core rebuilds on both cores, the logins' instants in their day
-- index").
set local parallel_tuple_cost = 0.01;
-- The core rebuilds and checks group, sort and hash-join millions of rows (each user's
-- activity over every event, the users' anti-joins): in memory, not in batches on disk.
set local work_mem = '512MB';
