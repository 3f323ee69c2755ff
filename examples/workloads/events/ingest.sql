-- One function invocation: one event from one of 10,000 devices.
\set device random(1, 10000)
\set reading random(0, 1000)
INSERT INTO events (device_id, kind, payload)
VALUES (:device, 'reading', ('{"value": ' || :reading || ', "unit": "mV"}')::jsonb);
