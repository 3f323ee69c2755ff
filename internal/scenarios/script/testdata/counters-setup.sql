CREATE TABLE counters (k int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO counters (k) SELECT g FROM generate_series(1, :keys) g;
