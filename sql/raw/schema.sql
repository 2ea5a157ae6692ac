-- Schema `raw`: validated snapshot rows, typed and trimmed, one table per snapshot file,
-- plus the quarantine of rejected rows and the accounting of every load.
create schema if not exists raw;
