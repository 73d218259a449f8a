//! One behaviour every catalog has for namespaces, checked on each: its
//! properties are read, set and removed; it drops only once empty.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::spec::{NestedField, PrimitiveType, Schema, Type, UnboundPartitionSpec};
use rat_core::{Catalog, ErrorKind, Identifier, NAMESPACE_COMMENT, NewTable, TableRef};

/// A table of one `long` column, `id`.
pub fn one_column() -> NewTable {
    NewTable {
        schema: Schema::builder()
            .with_fields(vec![Arc::new(NestedField::optional(
                1,
                "id",
                Type::Primitive(PrimitiveType::Long),
            ))])
            .build()
            .unwrap(),
        partition_spec: UnboundPartitionSpec::builder().build(),
        properties: HashMap::new(),
    }
}

pub async fn namespace_properties_and_drops(catalog: &dyn Catalog, namespace: &Identifier) {
    catalog.create_namespace(namespace).await.unwrap();
    let properties = catalog.namespace_properties(namespace).await.unwrap();
    assert!(
        !properties.contains_key(NAMESPACE_COMMENT),
        "{properties:?}"
    );

    let set = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    catalog
        .update_namespace_properties(
            namespace,
            set(&[(NAMESPACE_COMMENT, "orders"), ("owner", "ann")]),
            vec![],
        )
        .await
        .unwrap();
    let properties = catalog.namespace_properties(namespace).await.unwrap();
    assert_eq!(properties[NAMESPACE_COMMENT], "orders");
    assert_eq!(properties["owner"], "ann");
    catalog
        .update_namespace_properties(
            namespace,
            set(&[(NAMESPACE_COMMENT, "orders, daily")]),
            vec!["owner".into()],
        )
        .await
        .unwrap();
    let properties = catalog.namespace_properties(namespace).await.unwrap();
    assert_eq!(properties[NAMESPACE_COMMENT], "orders, daily");
    assert!(!properties.contains_key("owner"), "{properties:?}");

    // Not while it holds a table; nothing is dropped by the refusal.
    let table: TableRef = format!("{namespace}.bronze.t").parse().unwrap();
    catalog.create_table(&table, one_column()).await.unwrap();
    let refused = catalog.drop_namespace(namespace).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(refused.to_string().contains("1 table"), "{refused}");
    assert!(catalog.list_namespaces().await.unwrap().contains(namespace));
    catalog.load_table(&table).await.unwrap();

    catalog.drop_table(&table).await.unwrap();
    catalog.drop_namespace(namespace).await.unwrap();
    assert!(!catalog.list_namespaces().await.unwrap().contains(namespace));
    for gone in [
        catalog.namespace_properties(namespace).await.unwrap_err(),
        catalog.drop_namespace(namespace).await.unwrap_err(),
        catalog
            .update_namespace_properties(namespace, set(&[("a", "b")]), vec![])
            .await
            .unwrap_err(),
    ] {
        assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    }
}
