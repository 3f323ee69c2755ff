-- A short query, over and over: a test ends its backend from outside (pg_terminate_backend).
SELECT pg_sleep(0.2);
