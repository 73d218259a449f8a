-- Customers, generated deterministically (a stand-in for an extract from a source system).
SELECT
    i AS customer_id,
    'customer_' || lpad(i::VARCHAR, 4, '0') AS name,
    ['DE', 'FR', 'NL', 'US', 'JP', 'BR'][1 + (hash(i) % 6)::INTEGER] AS country,
    DATE '2023-01-01' + (hash(i * 7) % 365)::INTEGER AS signed_up_on
FROM range(1, 201) AS t(i)
