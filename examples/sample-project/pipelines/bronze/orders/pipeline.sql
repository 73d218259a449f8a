-- @merge_strategy: incremental
-- @unique_key: order_id
-- @watermark_column: ordered_at
-- @description: Orders, loaded incrementally; late changes within two days are re-read.
--
-- 20,000 generated orders between 2024-01-01 and 2024-03-31. After the first
-- run only orders newer than two days before the table's latest order are
-- read again: those rows replace their earlier versions (same order_id), so a
-- re-run adds no duplicates.
WITH generated AS (
    SELECT
        i AS order_id,
        1 + (hash(i) % 200)::BIGINT AS customer_id,
        TIMESTAMP '2024-01-01' + to_seconds((i * 389)::BIGINT) AS ordered_at,
        -- A few refunds are negative on purpose: the warn-level test reports them.
        round(((hash(i * 31) % 20000)::DOUBLE - 150) / 100, 2)::DECIMAL(12, 2) AS amount,
        ['paid', 'paid', 'paid', 'shipped', 'cancelled'][1 + (hash(i * 13) % 5)::INTEGER] AS status
    FROM range(1, 20001) AS t(i)
)
SELECT * FROM generated
{% if watermark_value %}
WHERE ordered_at > TIMESTAMP '{{ watermark_value }}' - INTERVAL 2 DAY
{% endif %}
