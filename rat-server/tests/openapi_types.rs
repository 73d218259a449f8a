//! The OpenAPI document against the Rust types behind it: every schema
//! of `openapi.yaml` (components, and the bodies written inline in the
//! paths) names exactly the fields its Rust type (de)serializes, with the
//! same JSON types, nested types included. The Rust side is the types'
//! JSON Schema (schemars, which reads the same serde attributes).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

/// A schema reduced to what a client relies on.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// Anything (an empty schema, or a part saying nothing of its type).
    Any,
    Object(BTreeMap<String, Shape>),
    /// An object of arbitrary keys.
    Map(Box<Shape>),
    Array(Box<Shape>),
    Scalar(&'static str),
    Enum(BTreeSet<String>),
}

/// Reduces `schema` of `document`, where `$ref`s under `prefix` point.
struct Reducer<'a> {
    document: &'a Value,
    refs: &'a str,
    depth: usize,
}

impl Reducer<'_> {
    fn shape(&mut self, schema: &Value) -> Shape {
        let Some(schema) = schema.as_object() else {
            return Shape::Any;
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix(self.refs)
                .unwrap_or_else(|| panic!("{reference} is not under {}", self.refs));
            // Deep enough to compare every nested type; recursive ones stop.
            if self.depth > 8 {
                return Shape::Any;
            }
            self.depth += 1;
            let target = self
                .document
                .pointer(&format!("{}{name}", pointer_of(self.refs)))
                .cloned();
            let shape = self.shape(&target.unwrap_or_else(|| panic!("no schema {name}")));
            self.depth -= 1;
            return shape;
        }
        let mut parts = Vec::new();
        for key in ["allOf", "oneOf", "anyOf"] {
            for part in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                parts.push(self.shape(part));
            }
        }
        let own = self.own_shape(schema);
        parts.into_iter().fold(own, merge)
    }

    fn own_shape(&mut self, schema: &serde_json::Map<String, Value>) -> Shape {
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return enum_of(values);
        }
        if let Some(value) = schema.get("const") {
            return enum_of(std::slice::from_ref(value));
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        let properties = schema.get("properties").and_then(Value::as_object);
        if types == ["object"] || properties.is_some() {
            if let Some(properties) = properties {
                return Shape::Object(
                    properties
                        .iter()
                        .map(|(k, v)| (k.clone(), self.shape(v)))
                        .collect(),
                );
            }
            return match schema.get("additionalProperties") {
                Some(v @ Value::Object(_)) => Shape::Map(Box::new(self.shape(v))),
                _ => Shape::Map(Box::new(Shape::Any)),
            };
        }
        match types.as_slice() {
            ["array"] => Shape::Array(Box::new(
                schema
                    .get("items")
                    .map(|i| self.shape(i))
                    .unwrap_or(Shape::Any),
            )),
            [scalar @ ("string" | "integer" | "number" | "boolean")] => {
                Shape::Scalar(match *scalar {
                    "string" => "string",
                    "integer" => "integer",
                    "number" => "number",
                    _ => "boolean",
                })
            }
            _ => Shape::Any,
        }
    }
}

fn pointer_of(refs: &str) -> String {
    refs.trim_start_matches('#').to_owned()
}

fn enum_of(values: &[Value]) -> Shape {
    Shape::Enum(
        values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
    )
}

/// The shape of a value that is one of two (or both, for `allOf`).
fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Any, other) | (other, Shape::Any) => other,
        (Shape::Object(mut a), Shape::Object(b)) => {
            for (key, shape) in b {
                let merged = match a.remove(&key) {
                    Some(existing) => merge(existing, shape),
                    None => shape,
                };
                a.insert(key, merged);
            }
            Shape::Object(a)
        }
        // An object's variants without properties of their own (a
        // `required` list) add nothing.
        (Shape::Object(a), Shape::Map(_)) | (Shape::Map(_), Shape::Object(a)) => Shape::Object(a),
        // `{type: string, oneOf: [{const: ...}]}`: the values say more.
        (Shape::Scalar("string"), Shape::Enum(e)) | (Shape::Enum(e), Shape::Scalar("string")) => {
            Shape::Enum(e)
        }
        (Shape::Enum(mut a), Shape::Enum(b)) => {
            a.extend(b);
            Shape::Enum(a)
        }
        (Shape::Array(a), Shape::Array(b)) => Shape::Array(Box::new(merge(*a, *b))),
        (Shape::Map(a), Shape::Map(b)) => Shape::Map(Box::new(merge(*a, *b))),
        (a, b) if a == b => a,
        (a, b) => panic!("cannot merge {a:?} with {b:?}"),
    }
}

/// Where the document and the Rust type differ, by field path.
fn differences(path: &str, documented: &Shape, rust: &Shape, out: &mut Vec<String>) {
    match (documented, rust) {
        (Shape::Any, _) | (_, Shape::Any) => {}
        (Shape::Object(d), Shape::Object(r)) => {
            for key in d.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{key}: documented, not in the Rust type"));
            }
            for key in r.keys().filter(|k| !d.contains_key(*k)) {
                out.push(format!("{path}.{key}: in the Rust type, not documented"));
            }
            for (key, shape) in d {
                if let Some(other) = r.get(key) {
                    differences(&format!("{path}.{key}"), shape, other, out);
                }
            }
        }
        (Shape::Map(d), Shape::Map(r)) | (Shape::Array(d), Shape::Array(r)) => {
            differences(&format!("{path}[]"), d, r, out)
        }
        (Shape::Enum(d), Shape::Enum(r)) if d != r => {
            out.push(format!("{path}: documented values {d:?}, Rust has {r:?}"));
        }
        (Shape::Enum(_), Shape::Enum(_)) => {}
        // A documented string for a Rust enum of names says less; documented
        // values for a string the Rust side validates say what it takes.
        (Shape::Scalar("string"), Shape::Enum(_)) | (Shape::Enum(_), Shape::Scalar("string")) => {}
        (Shape::Scalar(d), Shape::Scalar(r)) if d == r => {}
        (d, r) => out.push(format!("{path}: documented {d:?}, Rust has {r:?}")),
    }
}

/// How a body crosses the wire: what the server writes, or reads.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Response,
    Request,
}

fn rust_shape<T: JsonSchema>(direction: Direction) -> Shape {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Response => settings.for_serialize(),
        Direction::Request => settings.for_deserialize(),
    };
    let schema = SchemaGenerator::new(settings).into_root_schema_for::<T>();
    let value = serde_json::to_value(&schema).unwrap();
    Reducer {
        document: &value,
        refs: "#/$defs/",
        depth: 0,
    }
    .shape(&value)
}

fn documented_shape(document: &Value, pointer: &str) -> Shape {
    let schema = document
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the document has no {pointer}"))
        .clone();
    Reducer {
        document,
        refs: "#/components/schemas/",
        depth: 0,
    }
    .shape(&schema)
}

/// One documented schema and its Rust type.
struct Check {
    pointer: String,
    direction: Direction,
    rust: fn(Direction) -> Shape,
}

fn component<T: JsonSchema>(name: &str, direction: Direction) -> Check {
    Check {
        pointer: format!("/components/schemas/{name}"),
        direction,
        rust: rust_shape::<T>,
    }
}

/// The inline body of an operation: `request` or a response `status`.
fn inline<T: JsonSchema>(operation: &str, body: &str, direction: Direction) -> Check {
    Check {
        pointer: format!("{operation}|{body}"),
        direction,
        rust: rust_shape::<T>,
    }
}

fn pointer_to_inline(document: &Value, check: &str) -> String {
    let (operation, body) = check.split_once('|').unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("operationId").and_then(Value::as_str) == Some(operation) {
                let path = path.replace('~', "~0").replace('/', "~1");
                let at = match body {
                    "request" => "requestBody/content/application~1json/schema".to_owned(),
                    status => format!("responses/{status}/content/application~1json/schema"),
                };
                return format!("/paths/{path}/{method}/{at}");
            }
        }
    }
    panic!("no operation {operation}");
}

/// `POST /runs` takes one run or a batch, and answers accordingly.
fn run_or_batch_request(direction: Direction) -> Shape {
    merge(
        rust_shape::<api::SubmitRun>(direction),
        rust_shape::<api::BatchRequest>(direction),
    )
}

fn run_or_batch_answer(direction: Direction) -> Shape {
    merge(
        rust_shape::<api::RunAccepted>(direction),
        rust_shape::<api::Batch>(direction),
    )
}

use Direction::{Request, Response};
use rat_server::api;

fn checks() -> Vec<Check> {
    vec![
        component::<rat_runner::maintain::Footprint>("Footprint", Response),
        component::<rat_core::Layer>("Layer", Request),
        component::<api::ErrorEnvelope>("Error", Response),
        component::<api::Page<api::Namespace>>("Page", Response),
        component::<api::Features>("Features", Response),
        component::<api::Me>("Me", Response),
        component::<api::NewGrant>("NewGrant", Request),
        component::<api::Grant>("Grant", Response),
        component::<api::Page<api::Grant>>("GrantPage", Response),
        component::<api::Transfer>("Transfer", Request),
        component::<api::Ownership>("Ownership", Response),
        component::<rat_core::principal::Principal>("Principal", Response),
        component::<api::NamespaceMembers>("NamespaceMembers", Response),
        component::<api::AuditEntry>("AuditEntry", Response),
        component::<api::Page<api::AuditEntry>>("AuditPage", Response),
        component::<api::Namespace>("Namespace", Response),
        component::<api::NewNamespace>("NewNamespace", Request),
        component::<api::UpdateNamespace>("UpdateNamespace", Request),
        component::<api::NamespaceRemoved>("NamespaceRemoved", Response),
        component::<api::Page<api::Namespace>>("NamespacePage", Response),
        component::<api::PipelineFiles>("PipelineFiles", Request),
        component::<api::PipelineSummary>("PipelineSummary", Response),
        component::<api::Page<api::PipelineSummary>>("PipelinePage", Response),
        component::<api::PipelineDetail>("PipelineDetail", Response),
        component::<api::SavePipeline>("SavePipeline", Request),
        component::<api::VersionSummary>("VersionSummary", Response),
        component::<api::Page<api::VersionSummary>>("VersionPage", Response),
        component::<api::PipelineVersion>("PipelineVersion", Response),
        component::<api::VersionNote>("VersionNote", Request),
        component::<rat_core::RunLimits>("RunLimits", Request),
        component::<rat_core::RunRecord>("RunRecord", Response),
        component::<rat_core::RunError>("RunError", Response),
        component::<rat_core::RunResult>("RunResult", Response),
        component::<rat_core::Phase>("Phase", Response),
        component::<rat_core::MergeStrategy>("MergeStrategy", Response),
        component::<rat_core::QualityResult>("QualityResult", Response),
        component::<rat_core::project::PipelineSettings>("PipelineSettings", Response),
        component::<api::Page<rat_core::RunRecord>>("RunPage", Response),
        component::<api::Batch>("Batch", Response),
        component::<api::SnapshotInfo>("SnapshotInfo", Response),
        component::<rat_core::LogRecord>("LogRecord", Response),
        component::<api::TableSummary>("TableSummary", Response),
        component::<api::ProjectFile>("ProjectFile", Response),
        component::<api::Page<api::ProjectFile>>("ProjectFilePage", Response),
        component::<api::FileContent>("FileContent", Response),
        component::<api::TableDetail>("TableDetail", Response),
        component::<api::Page<api::TableSummary>>("TablePage", Response),
        component::<api::QueryOutput>("QueryOutput", Response),
        component::<api::QualityTest>("QualityTest", Response),
        component::<api::Page<api::QualityTest>>("QualityTestPage", Response),
        component::<api::NewQualityTest>("NewQualityTest", Request),
        component::<api::TestRunRequest>("TestRunRequest", Request),
        component::<api::TestReport>("TestReport", Response),
        component::<api::PreviewRequest>("PreviewRequest", Request),
        component::<api::CompiledPipeline>("CompiledPipeline", Response),
        component::<api::PipelinePreview>("PipelinePreview", Response),
        component::<api::ScheduleRequest>("ScheduleRequest", Request),
        component::<rat_core::schedule::Trigger>("Trigger", Response),
        component::<api::Schedule>("Schedule", Response),
        component::<api::FiringRecord>("FiringRecord", Response),
        component::<api::EventKind>("EventKind", Request),
        component::<api::NewHook>("NewHook", Request),
        component::<api::NotificationHook>("NotificationHook", Response),
        component::<api::Page<api::NotificationHook>>("NotificationHookPage", Response),
        component::<api::Event>("Event", Response),
        component::<api::Delivery>("Delivery", Response),
        component::<api::Page<api::Delivery>>("DeliveryPage", Response),
        component::<api::Page<api::FiringRecord>>("FiringPage", Response),
        component::<api::Page<api::Schedule>>("SchedulePage", Response),
        component::<rat_core::project::ZoneSettings>("ZoneSettings", Request),
        component::<api::LandingZone>("LandingZone", Response),
        component::<api::Page<api::LandingZone>>("LandingZonePage", Response),
        component::<api::LandingFile>("LandingFile", Response),
        component::<api::Page<api::LandingFile>>("LandingFilePage", Response),
        component::<api::Uploaded>("Uploaded", Response),
        component::<api::FilePreview>("FilePreview", Response),
        inline::<api::NewPipeline>("createPipeline", "request", Request),
        inline::<api::Lineage>("lineage", "200", Response),
        inline::<api::CronNext>("cronNext", "200", Response),
        inline::<api::QualityTestSql>("replaceQualityTest", "request", Request),
        inline::<api::LogPage>("runLogs", "200", Response),
        Check {
            pointer: "submitRun|request".into(),
            direction: Request,
            rust: run_or_batch_request,
        },
        Check {
            pointer: "submitRun|202".into(),
            direction: Response,
            rust: run_or_batch_answer,
        },
        inline::<Vec<api::SnapshotInfo>>("tableHistory", "200", Response),
        inline::<api::RollbackRequest>("rollbackTable", "request", Request),
        inline::<api::Rollback>("rollbackTable", "200", Response),
        inline::<api::MaintainRequest>("maintainTable", "request", Request),
        inline::<api::MaintenanceReport>("maintainTable", "200", Response),
        inline::<api::QueryRequest>("query", "request", Request),
        inline::<api::NewLandingZone>("createLandingZone", "request", Request),
        inline::<api::WriteFile>("writeProjectFile", "request", Request),
    ]
}

#[test]
fn every_documented_schema_matches_its_rust_type() {
    let document = rat_server::http::openapi_document();
    let checks = checks();
    let mut found = Vec::new();
    for check in &checks {
        let pointer = match check.pointer.contains('|') {
            true => pointer_to_inline(document, &check.pointer),
            false => check.pointer.clone(),
        };
        let documented = documented_shape(document, &pointer);
        let rust = (check.rust)(check.direction);
        differences(&check.pointer, &documented, &rust, &mut found);
    }
    assert!(
        found.is_empty(),
        "{} differences:\n{}",
        found.len(),
        found.join("\n")
    );
    // No component is left unchecked.
    let checked: BTreeSet<&str> = checks
        .iter()
        .filter_map(|c| c.pointer.strip_prefix("/components/schemas/"))
        .collect();
    let components: BTreeSet<&str> = document["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "Identifier")
        .collect();
    assert_eq!(components, checked, "components without a Rust type here");
    // Nor a body written inline in the paths.
    let checked: BTreeSet<&str> = checks
        .iter()
        .map(|c| c.pointer.as_str())
        .filter(|p| p.contains('|'))
        .collect();
    let inline = inline_bodies(document);
    let inline: BTreeSet<&str> = inline.iter().map(String::as_str).collect();
    assert_eq!(inline, checked, "inline bodies without a Rust type here");
}

/// `operation|request` or `operation|status` of every JSON body the paths
/// write out instead of naming a component.
fn inline_bodies(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for item in document["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let json = |body: &Value| body.pointer("/content/application~1json/schema").cloned();
            let inline = |schema: &Value| schema.get("$ref").is_none();
            if let Some(schema) = op.get("requestBody").and_then(json)
                && inline(&schema)
            {
                found.push(format!("{id}|request"));
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                if let Some(schema) = json(answer)
                    && inline(&schema)
                {
                    found.push(format!("{id}|{status}"));
                }
            }
        }
    }
    found
}

/// The comparison itself finds what it should.
#[test]
fn a_field_missing_on_either_side_or_of_another_type_is_found() {
    let object = |pairs: &[(&str, Shape)]| {
        Shape::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    let string = Shape::Scalar("string");
    let documented = object(&[("a", string.clone()), ("b", Shape::Scalar("integer"))]);
    let rust = object(&[("b", string.clone()), ("c", string.clone())]);
    let mut found = Vec::new();
    differences("X", &documented, &rust, &mut found);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("X.a: documented"), "{found:?}");
    assert!(found[1].contains("X.c: in the Rust type"), "{found:?}");
    assert!(found[2].contains("X.b"), "{found:?}");
    let values = |v: &[&str]| Shape::Enum(v.iter().map(|s| s.to_string()).collect());
    let mut found = Vec::new();
    differences("E", &values(&["a", "b"]), &values(&["a"]), &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
}
