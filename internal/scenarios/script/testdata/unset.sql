SELECT 1;
\set x :never_set + 1
SELECT :x;
