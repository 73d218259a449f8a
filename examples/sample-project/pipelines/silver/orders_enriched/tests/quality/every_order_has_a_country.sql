-- @description: The join to customers must not lose the country.
SELECT order_id FROM {{ this }} WHERE country IS NULL
