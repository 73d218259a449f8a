//! Mapping between DuckDB result types (seen through Arrow) and Iceberg types.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema};
use iceberg::spec::{
    ListType, MapType, NestedField, NestedFieldRef, PrimitiveType, Schema, StructType, Type,
};
use rat_core::{Error, ErrorKind, Result};

use super::sql::{quote_ident, quote_literal};

/// Converts a query's Arrow schema into an Iceberg schema with ids assigned
/// from 1 in depth-first order. Unsupported types name the column.
pub fn arrow_to_iceberg(schema: &ArrowSchema) -> Result<Schema> {
    let mut next_id = 0;
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut seen = std::collections::HashSet::new();
    for field in schema.fields() {
        if !seen.insert(field.name().clone()) {
            return Err(Error::invalid(format!(
                "the result has two columns named '{}'; give them distinct aliases",
                field.name()
            )));
        }
        fields.push(convert_field(field, field.name(), &mut next_id)?);
    }
    Schema::builder()
        .with_fields(fields)
        .build()
        .map_err(|e| Error::internal("cannot build schema").with_source(e))
}

fn convert_field(field: &Field, path: &str, next_id: &mut i32) -> Result<NestedFieldRef> {
    *next_id += 1;
    let id = *next_id;
    let ty = convert_type(field.data_type(), path, next_id)?;
    Ok(Arc::new(NestedField::optional(id, field.name(), ty)))
}

fn convert_type(dt: &DataType, path: &str, next_id: &mut i32) -> Result<Type> {
    let p = |t: PrimitiveType| Ok(Type::Primitive(t));
    match dt {
        DataType::Boolean => p(PrimitiveType::Boolean),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            p(PrimitiveType::Int)
        }
        DataType::Int64 | DataType::UInt32 => p(PrimitiveType::Long),
        DataType::Float16 | DataType::Float32 => p(PrimitiveType::Float),
        DataType::Float64 => p(PrimitiveType::Double),
        DataType::Decimal128(precision, scale) if *scale >= 0 => p(PrimitiveType::Decimal {
            precision: u32::from(*precision),
            scale: scale.unsigned_abs().into(),
        }),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => p(PrimitiveType::String),
        DataType::Dictionary(_, value)
            if matches!(**value, DataType::Utf8 | DataType::LargeUtf8) =>
        {
            p(PrimitiveType::String)
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => p(PrimitiveType::Binary),
        DataType::Date32 | DataType::Date64 => p(PrimitiveType::Date),
        DataType::Time32(_) | DataType::Time64(_) => p(PrimitiveType::Time),
        DataType::Timestamp(_, None) => p(PrimitiveType::Timestamp),
        DataType::Timestamp(_, Some(_)) => p(PrimitiveType::Timestamptz),
        DataType::List(item) | DataType::LargeList(item) => {
            *next_id += 1;
            let id = *next_id;
            let ty = convert_type(item.data_type(), &format!("{path}.element"), next_id)?;
            Ok(Type::List(ListType::new(Arc::new(
                NestedField::list_element(id, ty, false),
            ))))
        }
        DataType::Struct(fields) => Ok(Type::Struct(StructType::new(struct_fields(
            fields, path, next_id,
        )?))),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(unsupported(path, dt));
            };
            let (Some(k), Some(v)) = (kv.first(), kv.get(1)) else {
                return Err(unsupported(path, dt));
            };
            *next_id += 1;
            let key_id = *next_id;
            let key_type = convert_type(k.data_type(), &format!("{path}.key"), next_id)?;
            let value = convert_field(v, &format!("{path}.value"), next_id)?;
            Ok(Type::Map(MapType::new(
                Arc::new(NestedField::map_key_element(key_id, key_type)),
                Arc::new(NestedField::map_value_element(
                    value.id,
                    (*value.field_type).clone(),
                    false,
                )),
            )))
        }
        other => Err(unsupported(path, other)),
    }
}

fn struct_fields(fields: &Fields, path: &str, next_id: &mut i32) -> Result<Vec<NestedFieldRef>> {
    fields
        .iter()
        .map(|f| convert_field(f, &format!("{path}.{}", f.name()), next_id))
        .collect()
}

fn unsupported(path: &str, dt: &DataType) -> Error {
    let hint = match dt {
        DataType::UInt64 => "CAST it to BIGINT or DECIMAL(20,0)",
        DataType::Interval(_) | DataType::Duration(_) => "convert it to a number of seconds",
        DataType::Null => "CAST the NULL to the column's type",
        _ => "CAST it to a supported type",
    };
    Error::new(
        ErrorKind::InvalidInput,
        format!("column '{path}' has type {dt}, which Iceberg tables cannot store: {hint}"),
    )
    .with_context("column", path)
}

/// The DuckDB type that reads and writes an Iceberg type losslessly.
pub fn duck_type(ty: &Type) -> String {
    match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::Boolean => "BOOLEAN".into(),
            PrimitiveType::Int => "INTEGER".into(),
            PrimitiveType::Long => "BIGINT".into(),
            PrimitiveType::Float => "FLOAT".into(),
            PrimitiveType::Double => "DOUBLE".into(),
            PrimitiveType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            PrimitiveType::Date => "DATE".into(),
            PrimitiveType::Time => "TIME".into(),
            PrimitiveType::Timestamp => "TIMESTAMP".into(),
            PrimitiveType::Timestamptz => "TIMESTAMPTZ".into(),
            PrimitiveType::TimestampNs => "TIMESTAMP_NS".into(),
            PrimitiveType::TimestamptzNs => "TIMESTAMPTZ".into(),
            PrimitiveType::String => "VARCHAR".into(),
            PrimitiveType::Uuid => "UUID".into(),
            PrimitiveType::Fixed(_) | PrimitiveType::Binary => "BLOB".into(),
        },
        Type::List(list) => format!("{}[]", duck_type(&list.element_field.field_type)),
        Type::Map(map) => format!(
            "MAP({}, {})",
            duck_type(&map.key_field.field_type),
            duck_type(&map.value_field.field_type)
        ),
        Type::Struct(s) => {
            let parts: Vec<String> = s
                .fields()
                .iter()
                .map(|f| format!("{} {}", quote_ident(&f.name), duck_type(&f.field_type)))
                .collect();
            format!("STRUCT({})", parts.join(", "))
        }
    }
}

/// `SELECT CAST("a" AS T) AS "a", ... FROM (<sql>)`: the result in the exact
/// types the table stores, so every data file has the same physical schema.
pub fn cast_projection(schema: &Schema, sql: &str) -> String {
    let cols: Vec<String> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            let q = quote_ident(&f.name);
            format!("CAST({q} AS {}) AS {q}", duck_type(&f.field_type))
        })
        .collect();
    format!("SELECT {} FROM ({sql}) AS __rat_result", cols.join(", "))
}

/// The `FIELD_IDS` option of `COPY ... (FORMAT parquet)` for `schema`.
pub fn field_ids_option(schema: &Schema) -> String {
    let entries: Vec<String> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| format!("{}: {}", quote_literal(&f.name), field_id_value(f)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

fn field_id_value(field: &NestedField) -> String {
    let children: Vec<String> = match field.field_type.as_ref() {
        Type::Primitive(_) => return field.id.to_string(),
        Type::List(list) => vec![format!("element: {}", field_id_value(&list.element_field))],
        Type::Map(map) => vec![
            format!("key: {}", field_id_value(&map.key_field)),
            format!("value: {}", field_id_value(&map.value_field)),
        ],
        Type::Struct(s) => s
            .fields()
            .iter()
            .map(|f| format!("{}: {}", quote_literal(&f.name), field_id_value(f)))
            .collect(),
    };
    format!(
        "{{__duckdb_field_id: {}, {}}}",
        field.id,
        children.join(", ")
    )
}

/// How a scan finds a table's columns in its data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnMatch {
    /// By name: every file was written with the schema being read (a table
    /// whose schema never evolved). DuckDB keeps its fast paths (dictionary
    /// vectors, statistics) this way.
    ByName,
    /// By Iceberg field id: renamed columns keep their data, columns missing
    /// from older files read as NULL, promoted types are cast.
    ByFieldId,
}

impl ColumnMatch {
    /// By name when the table has only ever had one schema, else by field id.
    pub fn for_table(metadata: &iceberg::spec::TableMetadata) -> Self {
        if metadata.schemas_iter().len() == 1 {
            ColumnMatch::ByName
        } else {
            ColumnMatch::ByFieldId
        }
    }
}

/// A relation over Parquet data files with `schema`'s columns and types.
pub fn files_relation(schema: &Schema, files: &[String], by: ColumnMatch) -> String {
    parquet_scan(schema, files, by, None)
}

/// Like [`files_relation`], plus a column `source_column` holding each row's
/// file path (as DuckDB opened it).
pub fn files_relation_with_source(
    schema: &Schema,
    files: &[String],
    by: ColumnMatch,
    source_column: &str,
) -> String {
    parquet_scan(schema, files, by, Some(source_column))
}

fn parquet_scan(
    schema: &Schema,
    files: &[String],
    by: ColumnMatch,
    source_column: Option<&str>,
) -> String {
    let fields = schema.as_struct().fields();
    let source = source_column.map(quote_ident);
    if files.is_empty() {
        let mut cols: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "CAST(NULL AS {}) AS {}",
                    duck_type(&f.field_type),
                    quote_ident(&f.name)
                )
            })
            .collect();
        cols.extend(
            source
                .iter()
                .map(|s| format!("CAST(NULL AS VARCHAR) AS {s}")),
        );
        return format!("SELECT {} WHERE false", cols.join(", "));
    }
    let paths: Vec<String> = files
        .iter()
        .map(|f| super::sql::engine_path(f).to_owned())
        .collect();
    let filename = source_column
        .map(|c| format!(", filename = {}", quote_literal(c)))
        .unwrap_or_default();
    let list = super::sql::string_list(&paths);
    match by {
        ColumnMatch::ByName => {
            let mut cols: Vec<String> = fields
                .iter()
                .map(|f| {
                    let q = quote_ident(&f.name);
                    format!("CAST({q} AS {}) AS {q}", duck_type(&f.field_type))
                })
                .collect();
            cols.extend(source);
            format!(
                "SELECT {} FROM read_parquet({list}{filename}, hive_partitioning = false)",
                cols.join(", ")
            )
        }
        ColumnMatch::ByFieldId => {
            let mapping: Vec<String> = fields
                .iter()
                .map(|f| {
                    format!(
                        "{}: {{name: {}, type: {}, default_value: NULL}}",
                        f.id,
                        quote_literal(&f.name),
                        quote_literal(&duck_type(&f.field_type))
                    )
                })
                .collect();
            format!(
                "SELECT * FROM read_parquet({list}{filename}, hive_partitioning = false, schema = MAP {{{}}})",
                mapping.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_schema::TimeUnit;

    use super::*;

    #[test]
    fn maps_common_duckdb_types() {
        let arrow = ArrowSchema::new(vec![
            Field::new("i8", DataType::Int8, true),
            Field::new("big", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new(
                "tstz",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("d", DataType::Decimal128(18, 2), true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("l", DataType::Utf8, true))),
                true,
            ),
        ]);
        let schema = arrow_to_iceberg(&arrow).unwrap();
        let types: Vec<String> = schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| duck_type(&f.field_type))
            .collect();
        assert_eq!(
            types,
            [
                "INTEGER",
                "BIGINT",
                "TIMESTAMP",
                "TIMESTAMPTZ",
                "DECIMAL(18,2)",
                "VARCHAR[]"
            ]
        );
        assert_eq!(
            field_ids_option(&schema),
            "{'i8': 1, 'big': 2, 'ts': 3, 'tstz': 4, 'd': 5, 'l': {__duckdb_field_id: 6, element: 7}}"
        );
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let arrow = ArrowSchema::new(vec![Field::new(
            "gap",
            DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano),
            true,
        )]);
        let err = arrow_to_iceberg(&arrow).unwrap_err();
        assert_eq!(err.context("column"), Some("gap"));
    }

    #[test]
    fn duplicate_columns_are_refused() {
        let arrow = ArrowSchema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("a", DataType::Int32, true),
        ]);
        assert!(arrow_to_iceberg(&arrow).is_err());
    }

    #[test]
    fn empty_relation_has_typed_columns() {
        let arrow = ArrowSchema::new(vec![Field::new("x", DataType::Utf8, true)]);
        let schema = arrow_to_iceberg(&arrow).unwrap();
        assert_eq!(
            files_relation(&schema, &[], ColumnMatch::ByName),
            "SELECT CAST(NULL AS VARCHAR) AS \"x\" WHERE false"
        );
    }
}
