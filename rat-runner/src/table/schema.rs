//! Fitting a run's result to the table: schema evolution by name with
//! Iceberg's allowed promotions, and the partition spec from `partition_by`.

use std::sync::Arc;

use iceberg::spec::{
    ListType, MapType, NestedField, NestedFieldRef, PartitionSpec, PrimitiveType, Schema,
    StructType, Transform, Type, UnboundPartitionSpec,
};
use rat_core::project::{ColumnDescriptions, PartitionField, PartitionTransform};
use rat_core::{Error, MergeStrategy, Result};

/// The schema a run writes with: the table's schema evolved to hold the
/// result. Columns match by name; existing columns keep their field ids and
/// order, new columns get fresh ids at the end.
///
/// Allowed: new columns; a result type that promotes to the table's type
/// (written as the table's type); a table type that promotes to the result
/// type (int→long, float→double, decimal precision widening: the column is
/// widened). Refused, naming the column: a table column missing from the
/// result, any other type change. `full_refresh` replaces all data, so there
/// anything goes: missing columns are dropped and incompatible ones replaced
/// by new fields.
pub fn evolve_schema(
    table: &Schema,
    last_column_id: i32,
    result: &Schema,
    strategy: MergeStrategy,
) -> Result<Schema> {
    let mut next_id = last_column_id.max(table.highest_field_id());
    let replace_all = strategy == MergeStrategy::FullRefresh;
    let mut fields: Vec<NestedFieldRef> = Vec::new();

    for existing in table.as_struct().fields() {
        match result.field_by_name(&existing.name) {
            Some(new) => match fit_type(&existing.field_type, &new.field_type) {
                Some(ty) => fields.push(Arc::new(NestedField::optional(
                    existing.id,
                    &existing.name,
                    ty,
                ))),
                None if replace_all => {}
                None => {
                    return Err(Error::invalid(format!(
                        "column '{}' changes type from {} to {}, which Iceberg cannot evolve; \
                         CAST it back or use merge_strategy full_refresh",
                        existing.name, existing.field_type, new.field_type
                    ))
                    .with_context("column", &existing.name));
                }
            },
            None if replace_all => {}
            None => {
                return Err(Error::invalid(format!(
                    "column '{}' of the table is missing from the result; \
                     dropping columns needs merge_strategy full_refresh",
                    existing.name
                ))
                .with_context("column", &existing.name));
            }
        }
    }
    // Result order for full_refresh (the result *is* the table); otherwise
    // existing columns keep their place and new ones are appended.
    let mut ordered: Vec<NestedFieldRef> = Vec::with_capacity(result.as_struct().fields().len());
    for new in result.as_struct().fields() {
        if let Some(kept) = fields.iter().find(|f| f.name == new.name) {
            if replace_all {
                ordered.push(kept.clone());
            }
            continue;
        }
        ordered.push(Arc::new(NestedField::optional(
            fresh_id(&mut next_id),
            &new.name,
            with_fresh_ids(&new.field_type, &mut next_id),
        )));
    }
    let all = if replace_all {
        ordered
    } else {
        fields.extend(ordered);
        fields
    };
    Schema::builder()
        .with_schema_id(table.schema_id())
        .with_fields(all)
        .build()
        .map_err(|e| Error::internal("cannot build evolved schema").with_source(e))
}

/// `schema` with each top-level column's doc set from `columns` (a column
/// not described loses any doc: the pipeline's config is what describes
/// its table).
pub fn with_column_docs(schema: &Schema, columns: &ColumnDescriptions) -> Result<Schema> {
    let fields: Vec<NestedFieldRef> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|field| {
            let mut described = field.as_ref().clone();
            described.doc = columns.get(&field.name).map(str::to_owned);
            Arc::new(described)
        })
        .collect();
    Schema::builder()
        .with_schema_id(schema.schema_id())
        .with_identifier_field_ids(schema.identifier_field_ids())
        .with_fields(fields)
        .build()
        .map_err(|e| Error::internal("cannot describe the schema's columns").with_source(e))
}

/// The type a column gets when a value of `result` type is written into a
/// column of `table` type, or `None` when Iceberg cannot hold both.
fn fit_type(table: &Type, result: &Type) -> Option<Type> {
    use PrimitiveType as P;
    if table == result {
        return Some(table.clone());
    }
    let (Type::Primitive(t), Type::Primitive(r)) = (table, result) else {
        return None;
    };
    let fitted = match (t, r) {
        (P::Long, P::Int) | (P::Double, P::Float) => t.clone(),
        (P::Int, P::Long) | (P::Float, P::Double) => r.clone(),
        (
            P::Decimal {
                precision: tp,
                scale: ts,
            },
            P::Decimal {
                precision: rp,
                scale: rs,
            },
        ) if ts == rs => P::Decimal {
            precision: (*tp).max(*rp),
            scale: *ts,
        },
        _ => return None,
    };
    Some(Type::Primitive(fitted))
}

fn fresh_id(next: &mut i32) -> i32 {
    *next += 1;
    *next
}

fn with_fresh_ids(ty: &Type, next: &mut i32) -> Type {
    match ty {
        Type::Primitive(_) => ty.clone(),
        Type::List(list) => {
            let id = fresh_id(next);
            let element = with_fresh_ids(&list.element_field.field_type, next);
            Type::List(ListType::new(Arc::new(NestedField::list_element(
                id,
                element,
                list.element_field.required,
            ))))
        }
        Type::Map(map) => {
            let key_id = fresh_id(next);
            let key = with_fresh_ids(&map.key_field.field_type, next);
            let value_id = fresh_id(next);
            let value = with_fresh_ids(&map.value_field.field_type, next);
            Type::Map(MapType::new(
                Arc::new(NestedField::map_key_element(key_id, key)),
                Arc::new(NestedField::map_value_element(
                    value_id,
                    value,
                    map.value_field.required,
                )),
            ))
        }
        Type::Struct(s) => Type::Struct(StructType::new(
            s.fields()
                .iter()
                .map(|f| {
                    let id = fresh_id(next);
                    Arc::new(NestedField::optional(
                        id,
                        &f.name,
                        with_fresh_ids(&f.field_type, next),
                    ))
                })
                .collect(),
        )),
    }
}

/// The Iceberg transform of a `partition_by` transform.
pub fn iceberg_transform(t: PartitionTransform) -> Transform {
    match t {
        PartitionTransform::Identity => Transform::Identity,
        PartitionTransform::Year => Transform::Year,
        PartitionTransform::Month => Transform::Month,
        PartitionTransform::Day => Transform::Day,
        PartitionTransform::Hour => Transform::Hour,
        PartitionTransform::Bucket(n) => Transform::Bucket(n),
        PartitionTransform::Truncate(w) => Transform::Truncate(w),
    }
}

/// The partition field name Iceberg's Java API would choose.
fn partition_field_name(p: &PartitionField) -> String {
    match p.transform {
        PartitionTransform::Identity => p.column.clone(),
        PartitionTransform::Year => format!("{}_year", p.column),
        PartitionTransform::Month => format!("{}_month", p.column),
        PartitionTransform::Day => format!("{}_day", p.column),
        PartitionTransform::Hour => format!("{}_hour", p.column),
        PartitionTransform::Bucket(_) => format!("{}_bucket", p.column),
        PartitionTransform::Truncate(_) => format!("{}_trunc", p.column),
    }
}

/// The partition spec `partition_by` asks for over `schema`. Errors name the
/// column (missing, or a transform its type does not support).
pub fn partition_spec(
    partition_by: &[PartitionField],
    schema: &Schema,
) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    for p in partition_by {
        let field = schema.field_by_name(&p.column).ok_or_else(|| {
            Error::invalid(format!(
                "partition_by column '{}' is not in the result",
                p.column
            ))
            .with_context("field", "partition_by")
        })?;
        let transform = iceberg_transform(p.transform);
        transform.result_type(&field.field_type).map_err(|_| {
            Error::invalid(format!(
                "partition transform {} does not apply to column '{}' of type {}",
                p.transform, p.column, field.field_type
            ))
            .with_context("field", "partition_by")
        })?;
        builder = builder
            .add_partition_field(field.id, partition_field_name(p), transform)
            .map_err(|e| {
                Error::invalid(format!("invalid partition_by: {e}"))
                    .with_context("field", "partition_by")
            })?;
    }
    Ok(builder.build())
}

/// Whether the table's current spec is what `partition_by` asks for
/// (same source columns, same transforms, same order).
pub fn spec_matches(
    current: &PartitionSpec,
    schema: &Schema,
    partition_by: &[PartitionField],
) -> bool {
    current.fields().len() == partition_by.len()
        && current.fields().iter().zip(partition_by).all(|(f, p)| {
            f.transform == iceberg_transform(p.transform)
                && schema.field_by_id(f.source_id).map(|s| s.name.as_str())
                    == Some(p.column.as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(i32, &str, PrimitiveType)]) -> Schema {
        Schema::builder()
            .with_fields(
                fields
                    .iter()
                    .map(|(id, n, t)| {
                        Arc::new(NestedField::optional(*id, *n, Type::Primitive(t.clone())))
                    })
                    .collect::<Vec<_>>(),
            )
            .build()
            .unwrap()
    }

    fn names_ids(s: &Schema) -> Vec<(String, i32, String)> {
        s.as_struct()
            .fields()
            .iter()
            .map(|f| (f.name.clone(), f.id, f.field_type.to_string()))
            .collect()
    }

    #[test]
    fn adds_columns_and_promotes() {
        let table = schema(&[(1, "id", PrimitiveType::Int), (2, "v", PrimitiveType::Long)]);
        let result = schema(&[
            (1, "extra", PrimitiveType::String),
            (2, "id", PrimitiveType::Long),
            (3, "v", PrimitiveType::Int),
        ]);
        let out = evolve_schema(&table, 2, &result, MergeStrategy::AppendOnly).unwrap();
        assert_eq!(
            names_ids(&out),
            [
                ("id".into(), 1, "long".into()),
                ("v".into(), 2, "long".into()),
                ("extra".into(), 3, "string".into())
            ]
        );
    }

    #[test]
    fn widens_floats_and_decimal_precision_but_not_scale() {
        let dec = |precision, scale| PrimitiveType::Decimal { precision, scale };
        let table = schema(&[(1, "f", PrimitiveType::Float), (2, "d", dec(10, 2))]);
        let result = schema(&[(1, "f", PrimitiveType::Double), (2, "d", dec(18, 2))]);
        let out = evolve_schema(&table, 2, &result, MergeStrategy::Incremental).unwrap();
        assert_eq!(
            names_ids(&out),
            [
                ("f".into(), 1, "double".into()),
                ("d".into(), 2, "decimal(18, 2)".into())
            ]
        );
        // A narrower result is written into the wider column unchanged.
        let narrower = schema(&[(1, "f", PrimitiveType::Float), (2, "d", dec(8, 2))]);
        let out = evolve_schema(&out, 2, &narrower, MergeStrategy::AppendOnly).unwrap();
        assert_eq!(names_ids(&out)[1].2, "decimal(18, 2)");
        let rescaled = schema(&[(1, "f", PrimitiveType::Double), (2, "d", dec(18, 3))]);
        let err = evolve_schema(&out, 2, &rescaled, MergeStrategy::Incremental).unwrap_err();
        assert_eq!(err.context("column"), Some("d"));
    }

    #[test]
    fn refuses_drops_and_incompatible_changes_except_full_refresh() {
        let table = schema(&[
            (1, "id", PrimitiveType::Int),
            (2, "s", PrimitiveType::String),
        ]);
        let dropped = schema(&[(1, "id", PrimitiveType::Int)]);
        let err = evolve_schema(&table, 2, &dropped, MergeStrategy::Incremental).unwrap_err();
        assert_eq!(err.context("column"), Some("s"));
        let changed = schema(&[
            (1, "id", PrimitiveType::String),
            (2, "s", PrimitiveType::String),
        ]);
        let err = evolve_schema(&table, 2, &changed, MergeStrategy::AppendOnly).unwrap_err();
        assert_eq!(err.context("column"), Some("id"));
        let out = evolve_schema(&table, 2, &changed, MergeStrategy::FullRefresh).unwrap();
        assert_eq!(
            names_ids(&out),
            [
                ("id".into(), 3, "string".into()),
                ("s".into(), 2, "string".into())
            ]
        );
    }
}
