-- Monthly revenue per country.
SELECT
    country,
    date_trunc('month', order_date) AS month,
    count(*) AS orders,
    sum(amount) AS revenue
FROM {{ ref('silver.orders_enriched') }}
GROUP BY ALL
ORDER BY month, country
