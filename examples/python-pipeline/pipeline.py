# @merge_strategy: full_refresh
# @description: Customers by spend band, computed in Python (rat init --python)
#
# A Python pipeline: rat runs this script in its own interpreter (RAT_PYTHON,
# or python: in rat.yaml; it needs pyarrow and duckdb). ref() names a table
# to read with duckdb_conn; set `result` to what the table should hold.
orders = duckdb_conn.sql(f"SELECT customer_id, amount FROM {ref('silver.orders_enriched')}")
spend = orders.aggregate("customer_id, sum(amount) AS spent, count(*) AS orders").to_arrow_table()

bands = []
for spent in spend.column("spent").to_pylist():
    bands.append("high" if spent >= 500 else "medium" if spent >= 100 else "low")
log.info(f"{this}: {spend.num_rows} customers banded")
result = spend.append_column("band", pa.array(bands, pa.string()))
