-- @merge_strategy: full_refresh
-- The ten customers with the highest revenue.
SELECT
    customer_id,
    any_value(country) AS country,
    count(*) AS orders,
    sum(amount) AS revenue
FROM {{ ref('silver.orders_enriched') }}
GROUP BY customer_id
ORDER BY revenue DESC, customer_id
LIMIT 10
