//! The folder a data file of one partition goes in, named as Iceberg's
//! writers name it (`at_day=2026-01-05/customer_id_bucket=3`), so a person
//! browsing the bucket can read it. Readers never parse these names: the
//! partition of a file is in its manifest entry.

use chrono::{DateTime, Datelike, Timelike};
use iceberg::spec::{
    Literal, PartitionSpec, PrimitiveLiteral, PrimitiveType, Schema, Struct, Transform, Type,
};

/// Longest name one folder gets (a long string value is cut there; files
/// carry unique names, so two values cut alike still cannot collide).
const MAX_SEGMENT: usize = 100;

/// `field=value` per partition field of `spec`, joined by `/`, values in
/// Iceberg's human form: dates as `2026-01-05`, months as `2026-01`, hours
/// as `2026-01-05-10`, NULL as `null`. Characters other than letters,
/// digits, `.`, `-` and `_` become `_`, so the name is safe in any store
/// and never needs escaping.
///
/// ```
/// # use std::sync::Arc;
/// use iceberg::spec::{Literal, NestedField, PartitionSpec, PrimitiveType, Schema, Struct, Transform, Type};
/// let schema = Schema::builder()
///     .with_fields(vec![
///         NestedField::required(1, "at", Type::Primitive(PrimitiveType::Date)).into(),
///         NestedField::required(2, "customer_id", Type::Primitive(PrimitiveType::Long)).into(),
///     ])
///     .build()
///     .unwrap();
/// let spec = PartitionSpec::builder(schema.clone())
///     .add_partition_field("at", "at_day", Transform::Day).unwrap()
///     .add_partition_field("customer_id", "customer_id_bucket", Transform::Bucket(8)).unwrap()
///     .build()
///     .unwrap();
/// let partition = Struct::from_iter([Some(Literal::date(20458)), Some(Literal::int(3))]);
/// assert_eq!(
///     rat_runner::table::partition_path(&spec, &schema, &partition),
///     "at_day=2026-01-05/customer_id_bucket=3"
/// );
/// ```
pub fn partition_path(spec: &PartitionSpec, schema: &Schema, partition: &Struct) -> String {
    spec.fields()
        .iter()
        .zip(partition.iter())
        .map(|(field, value)| {
            let source = schema
                .field_by_id(field.source_id)
                .and_then(|f| f.field_type.as_primitive_type().cloned());
            let human = match (value, source) {
                (Some(value), Some(source)) => human(field.transform, &source, value),
                (Some(value), None) => format!("{value:?}"),
                (None, _) => "null".to_owned(),
            };
            format!("{}={}", safe(&field.name), safe(&human))
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Iceberg's human form of one transformed value.
fn human(transform: Transform, source: &PrimitiveType, value: &Literal) -> String {
    let Some(primitive) = value.as_primitive_literal() else {
        return "null".to_owned();
    };
    let int = match primitive {
        PrimitiveLiteral::Int(n) => Some(n),
        _ => None,
    };
    match (transform, int) {
        (Transform::Year, Some(n)) => format!("{:04}", 1970 + n),
        (Transform::Month, Some(n)) => {
            format!("{:04}-{:02}", 1970 + n.div_euclid(12), n.rem_euclid(12) + 1)
        }
        (Transform::Hour, Some(n)) => DateTime::from_timestamp(i64::from(n) * 3600, 0)
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02}-{:02}",
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour()
                )
            })
            .unwrap_or_else(|| n.to_string()),
        (Transform::Day, _) => {
            transform.to_human_string(&Type::Primitive(PrimitiveType::Date), Some(value))
        }
        (Transform::Identity | Transform::Truncate(_), _) => {
            transform.to_human_string(&Type::Primitive(source.clone()), Some(value))
        }
        (_, Some(n)) => n.to_string(),
        (_, None) => format!("{primitive:?}"),
    }
}

/// `text` with every character outside `[A-Za-z0-9._-]` replaced by `_`,
/// cut to [`MAX_SEGMENT`] bytes.
fn safe(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.truncate(MAX_SEGMENT);
    if out.is_empty() || out == "." || out == ".." {
        out = "_".to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::spec::NestedField;

    fn schema() -> Schema {
        Schema::builder()
            .with_fields(vec![
                NestedField::optional(1, "at", Type::Primitive(PrimitiveType::Timestamptz)).into(),
                NestedField::optional(2, "city", Type::Primitive(PrimitiveType::String)).into(),
            ])
            .build()
            .unwrap()
    }

    fn path(transform: Transform, column: &str, value: Option<Literal>) -> String {
        let schema = schema();
        let spec = PartitionSpec::builder(schema.clone())
            .add_partition_field(column, "p", transform)
            .unwrap()
            .build()
            .unwrap();
        partition_path(&spec, &schema, &Struct::from_iter([value]))
    }

    #[test]
    fn temporal_transforms_read_as_dates() {
        // 2026-01-05 is day 20458, month 672 (2026-01), hour 491_002 (10:00).
        let cases = [
            (Transform::Day, Literal::date(20458), "p=2026-01-05"),
            (Transform::Month, Literal::int(672), "p=2026-01"),
            (Transform::Year, Literal::int(56), "p=2026"),
            (Transform::Hour, Literal::int(491_002), "p=2026-01-05-10"),
            (Transform::Month, Literal::int(-1), "p=1969-12"),
        ];
        for (transform, value, want) in cases {
            assert_eq!(path(transform, "at", Some(value)), want, "{transform}");
        }
    }

    #[test]
    fn values_are_made_safe_and_null_is_named() {
        assert_eq!(
            path(
                Transform::Identity,
                "city",
                Some(Literal::string("New York/../x"))
            ),
            "p=New_York_.._x"
        );
        assert_eq!(path(Transform::Identity, "city", None), "p=null");
        assert_eq!(
            path(Transform::Identity, "city", Some(Literal::string(".."))),
            "p=_"
        );
        let long = "é".repeat(200);
        assert_eq!(
            path(Transform::Identity, "city", Some(Literal::string(&long))).len(),
            102
        );
    }
}
