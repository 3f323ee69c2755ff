-- :scale x 100,000 keys with a value of ~100 bytes each.
CREATE TABLE kv (
    k          bigint PRIMARY KEY,
    v          text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 90);  -- room on each page for HOT updates

INSERT INTO kv (k, v)
SELECT g, repeat(md5(g::text), 3)
FROM generate_series(1, :scale * 100000) g;
ANALYZE kv;
