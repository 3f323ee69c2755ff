-- Read one key; hot keys are read most.
\set k random_zipfian(1, 100000 * :scale, :skew)
SELECT v FROM kv WHERE k = :k;
