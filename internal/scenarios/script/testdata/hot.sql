-- one hot row under REPEATABLE READ: concurrent updates fail with 40001 and are retried
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT n FROM hot WHERE id = 1;
\sleep 1 ms
UPDATE hot SET n = n + 1 WHERE id = 1;
END;
