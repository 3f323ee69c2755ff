-- Overwrite one key; the hottest keys' row locks are where writers wait.
\set k random_zipfian(1, 100000 * :scale, :skew)
UPDATE kv SET v = md5(random()::text) || md5(random()::text), updated_at = now() WHERE k = :k;
