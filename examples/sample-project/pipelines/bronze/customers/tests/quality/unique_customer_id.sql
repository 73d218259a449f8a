-- @severity: error
-- @description: Every customer appears once.
SELECT customer_id, count(*) AS copies
FROM {{ this }}
GROUP BY customer_id
HAVING count(*) > 1
