-- The database's own rate for one durable one-row insert transaction.
INSERT INTO bench.pgbench_scratch (payload) VALUES ('one row');
