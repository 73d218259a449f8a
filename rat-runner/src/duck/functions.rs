//! SQL functions rat registers in every session.
//!
//! `rat_bucket(n, value)`: Iceberg's `bucket[n]` transform (murmur3, as the
//! spec defines it), computed by iceberg-rust itself, so DuckDB groups rows
//! into exactly the partitions Iceberg readers expect. Values arrive as
//! BIGINT (ints, longs, days, microseconds), VARCHAR or BLOB.
//!
//! `rat_bucket_decimal(n, text)`: the same for decimals, which arrive as
//! DuckDB's text form with every fractional digit (`-12.30` for a
//! DECIMAL(p,2)); the hash covers the unscaled value, `-1230`. (DuckDB cannot
//! hand DECIMAL vectors to Arrow UDFs.)

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Decimal128Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use duckdb::Connection;
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};
use iceberg::spec::Transform;
use iceberg::transform::create_transform_function;

/// `rat_bucket(n, value)`.
#[derive(Debug)]
pub(crate) struct IcebergBucket;

impl VArrowScalar for IcebergBucket {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef, Box<dyn std::error::Error>> {
        bucket(&input, input.column(1).clone())
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        [DataType::Int64, DataType::Utf8, DataType::Binary]
            .into_iter()
            .map(|t| ArrowFunctionSignature::exact(vec![DataType::Int32, t], DataType::Int32))
            .collect()
    }
}

/// `rat_bucket_decimal(n, decimal_text)`.
#[derive(Debug)]
pub(crate) struct IcebergBucketDecimal;

impl VArrowScalar for IcebergBucketDecimal {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef, Box<dyn std::error::Error>> {
        let text = input
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("rat_bucket_decimal: the value must be VARCHAR")?;
        let unscaled = text
            .iter()
            .map(|v| v.map(|t| t.replace('.', "").parse::<i128>()).transpose())
            .collect::<Result<Decimal128Array, _>>()?
            .with_precision_and_scale(38, 0)?;
        bucket(&input, Arc::new(unscaled))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Int32, DataType::Utf8],
            DataType::Int32,
        )]
    }
}

/// Applies `bucket[n]` to `values`, `n` being the constant first column.
fn bucket(input: &RecordBatch, values: ArrayRef) -> Result<ArrayRef, Box<dyn std::error::Error>> {
    let counts = input
        .column(0)
        .as_any()
        .downcast_ref::<Int32Array>()
        .ok_or("rat_bucket: the bucket count must be an INTEGER")?;
    if input.num_rows() == 0 {
        return Ok(Arc::new(Int32Array::from(Vec::<i32>::new())));
    }
    let n = counts.value(0);
    if n <= 0 || counts.iter().any(|c| c != Some(n)) {
        return Err("rat_bucket: the bucket count must be one positive constant".into());
    }
    let transform = create_transform_function(&Transform::Bucket(n.unsigned_abs()))?;
    Ok(transform.transform(values)?)
}

/// Registers rat's functions on a fresh connection.
pub(crate) fn register(conn: &Connection) -> duckdb::Result<()> {
    conn.register_scalar_function::<IcebergBucket>("rat_bucket")?;
    conn.register_scalar_function::<IcebergBucketDecimal>("rat_bucket_decimal")
}

#[cfg(test)]
mod tests {
    use iceberg::spec::Datum;

    use super::*;

    /// Values from the Iceberg spec's appendix B (bucket hash test vectors)
    /// and iceberg-rust's own literal transform must agree with the UDF.
    #[test]
    fn matches_iceberg_for_each_input_kind() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let expected = |n: u32, d: Datum| -> i32 {
            let f = create_transform_function(&Transform::Bucket(n)).unwrap();
            match f.transform_literal(&d).unwrap().unwrap().literal() {
                iceberg::spec::PrimitiveLiteral::Int(v) => *v,
                other => panic!("{other:?}"),
            }
        };
        let q = |sql: &str| -> i32 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        // Spec vector: hash(34) = 2017239379 → bucket[16]: (2017239379 & MAX) % 16.
        assert_eq!(
            q("SELECT rat_bucket(16, CAST(34 AS BIGINT))"),
            2017239379 % 16
        );
        assert_eq!(
            q("SELECT rat_bucket(16, CAST(34 AS BIGINT))"),
            expected(16, Datum::long(34))
        );
        assert_eq!(
            q("SELECT rat_bucket(16, CAST(34 AS BIGINT))"),
            expected(16, Datum::int(34))
        );
        assert_eq!(
            q("SELECT rat_bucket(7, 'iceberg')"),
            expected(7, Datum::string("iceberg"))
        );
        assert_eq!(
            q("SELECT rat_bucket(7, CAST('\\x01\\x02'::BLOB AS BLOB))"),
            expected(7, Datum::binary(vec![1, 2]))
        );
        // 14.20 as DECIMAL(10, 2): unscaled 1420 = 0x058C.
        let dec = Datum::try_from_bytes(
            &[0x05, 0x8c],
            iceberg::spec::PrimitiveType::Decimal {
                precision: 10,
                scale: 2,
            },
        )
        .unwrap();
        assert_eq!(
            q("SELECT rat_bucket_decimal(9, CAST(CAST(14.2 AS DECIMAL(10, 2)) AS VARCHAR))"),
            expected(9, dec)
        );
        let n: Option<i32> = conn
            .query_row("SELECT rat_bucket(4, CAST(NULL AS BIGINT))", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, None);
    }
}
