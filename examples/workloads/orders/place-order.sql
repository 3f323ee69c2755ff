-- Place an order for one product (a zipfian pick: popular products contend for their stock
-- row). With stock left, take it down and write the order and its item; without, restock.
\set customer random(1, 10000 * :scale)
\set product random_zipfian(1, 1000 * :scale, 1.2)
\set qty random(1, 3)
BEGIN;
SELECT stock, price FROM product WHERE id = :product FOR UPDATE \gset
\if :stock >= :qty
UPDATE product SET stock = stock - :qty WHERE id = :product;
INSERT INTO orders (customer_id, total) VALUES (:customer, :qty * :price) RETURNING id AS order_id \gset
INSERT INTO order_items (order_id, product_id, qty, price) VALUES (:order_id, :product, :qty, :price);
\else
UPDATE product SET stock = stock + 50 WHERE id = :product;
\endif
COMMIT;
