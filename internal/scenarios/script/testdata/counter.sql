-- zipfian keys, \gset and \if: every transaction adds 1 to exactly one key's counter.
\set k random_zipfian(1, 100, 1.2)
SELECT n AS before FROM counters WHERE k = :k \gset
\if :before >= 0
UPDATE counters SET n = n + 1 WHERE k = :k;
\else
UPDATE counters SET n = n + 1000000 WHERE k = :k;
\endif
