-- A customer looks up their ten most recent orders and how many items each has.
\set customer random(1, 10000 * :scale)
SELECT o.id, o.status, o.total, o.created_at, count(i.product_id) AS items
FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.customer_id = :customer
GROUP BY o.id
ORDER BY o.created_at DESC
LIMIT 10;
