-- @description: Orders must have an id.
SELECT * FROM {{ this }} WHERE order_id IS NULL
