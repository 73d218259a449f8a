-- Orders that were not cancelled, with their customer's country.
SELECT
    o.order_id,
    o.customer_id,
    c.country,
    o.ordered_at,
    CAST(o.ordered_at AS DATE) AS order_date,
    o.amount
FROM {{ ref('bronze.orders') }} AS o
JOIN {{ ref('bronze.customers') }} AS c USING (customer_id)
WHERE o.status <> 'cancelled'
