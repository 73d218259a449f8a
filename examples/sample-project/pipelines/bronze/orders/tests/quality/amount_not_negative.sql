-- @severity: warn
-- @description: Negative amounts are refunds booked as orders.
-- @remediation: Ask finance to book refunds separately.
-- @tags: finance
SELECT order_id, amount FROM {{ this }} WHERE amount < 0 ORDER BY order_id
