-- A customer browses a page of 20 products.
\set first random(1, 1000 * :scale - 20)
SELECT id, name, price, stock FROM product WHERE id BETWEEN :first AND :first + 19 ORDER BY id;
