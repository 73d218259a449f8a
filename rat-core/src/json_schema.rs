//! JSON Schemas of the types whose serde form is not derived (feature
//! `json-schema`): names are strings (their patterns are the validators'
//! business, and the OpenAPI document's), overrides are objects.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

macro_rules! schema_as {
    ($kind:literal: $($name:ty),*) => {$(
        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": $kind})
            }
        }
    )*};
}

schema_as!("string": crate::Identifier, crate::TableRef, crate::RunId,
    crate::project::PartitionTransform, crate::authz::Grantee, crate::authz::TablePattern);
schema_as!("object": crate::MaintenanceOverrides);
