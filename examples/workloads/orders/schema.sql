-- The shop's schema and data, sized by :scale.
CREATE TABLE product (
    id    int PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10,2) NOT NULL,
    stock int NOT NULL
);
CREATE TABLE customer (
    id     int PRIMARY KEY,
    name   text NOT NULL,
    region text NOT NULL
);
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id int NOT NULL,
    status      text NOT NULL DEFAULT 'new',
    total       numeric(12,2) NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A customer's recent orders (order-status.sql) are found by this index.
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at);
CREATE TABLE order_items (
    order_id   bigint NOT NULL,
    product_id int NOT NULL,
    qty        int NOT NULL,
    price      numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

INSERT INTO product
SELECT g, 'product ' || g, round((1 + random() * 99)::numeric, 2), 50
FROM generate_series(1, :scale * 1000) g;

INSERT INTO customer
SELECT g, 'customer ' || g, (ARRAY['eu', 'us', 'apac'])[1 + g % 3]
FROM generate_series(1, :scale * 10000) g;

INSERT INTO orders (customer_id, status, total, created_at)
SELECT 1 + (g * 7919) % (:scale * 10000), 'shipped', round((10 + random() * 200)::numeric, 2), now() - g * interval '1 minute'
FROM generate_series(1, :scale * 20000) g;

INSERT INTO order_items (order_id, product_id, qty, price)
SELECT o.id, 1 + (o.id * 31) % (:scale * 1000), 1 + o.id % 3, p.price
FROM orders o JOIN product p ON p.id = 1 + (o.id * 31) % (:scale * 1000);
-- Foreign keys after the load: one check of each instead of a trigger per row.
ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customer;
ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders;
ALTER TABLE order_items ADD FOREIGN KEY (product_id) REFERENCES product;
-- Its own tables only: a bare ANALYZE analyzes every table of the database, which on a
-- server of yours (--target dsn) reaches far beyond the run's schema.
ANALYZE product, customer, orders, order_items;
