-- @description: The grain is (country, month).
SELECT country, month FROM {{ this }} GROUP BY ALL HAVING count(*) > 1
