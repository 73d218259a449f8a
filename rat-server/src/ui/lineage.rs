//! `/lineage`: a namespace's pipelines as a DAG drawn on the server (an
//! SVG, so it paints at once however large): bronze, silver and gold as
//! columns, each node a link to its pipeline with its last run's status,
//! the `ref()`s as edges. The page's script highlights what is upstream
//! and downstream of the node in focus.

use std::collections::{BTreeMap, HashMap};

use axum::extract::Query;
use rat_core::store::RunFilter;
use rat_core::{Layer, TableRef};
use serde::{Deserialize, Serialize};

use super::render::{PageResult, Shell};
use super::views::namespace_names;
use crate::api::Lineage;
use crate::http::Api;

/// Recent runs read for the nodes' last statuses.
const RECENT_RUNS: u32 = 5000;
/// Geometry of the drawing, in SVG units.
const COLUMN: f64 = 320.0;
const NODE_WIDTH: f64 = 250.0;
const NODE_HEIGHT: f64 = 30.0;
const ROW: f64 = 40.0;
const TOP: f64 = 40.0;

#[derive(Debug, Default, Deserialize)]
pub(super) struct LineageForm {
    #[serde(default)]
    namespace: String,
}

/// A node placed in the drawing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct Node {
    id: usize,
    table: String,
    label: String,
    path: String,
    x: f64,
    y: f64,
    /// In another namespace than the one drawn.
    external: bool,
    status: Option<String>,
}

/// An edge between placed nodes, as an SVG path.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct Edge {
    from: usize,
    to: usize,
    d: String,
}

/// The drawing: nodes, edges and its size.
#[derive(Debug, Serialize)]
pub(super) struct Drawing {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    width: f64,
    height: f64,
}

fn column(layer: Layer) -> usize {
    match layer {
        Layer::Bronze => 0,
        Layer::Silver => 1,
        Layer::Gold => 2,
    }
}

/// Places `lineage` in three columns by layer; within a column, nodes are
/// ordered by the mean row of what they read (one barycentre pass, which
/// keeps most edges short), then by name.
pub(super) fn layout(lineage: &Lineage, namespace: &str) -> Drawing {
    let mut tables: Vec<TableRef> = lineage.nodes.clone();
    for edge in &lineage.edges {
        for t in [&edge.from, &edge.to] {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
    }
    let upstream: HashMap<&TableRef, Vec<&TableRef>> =
        lineage.edges.iter().fold(HashMap::new(), |mut up, e| {
            up.entry(&e.to).or_default().push(&e.from);
            up
        });
    let mut row: HashMap<TableRef, usize> = HashMap::new();
    let mut columns: [Vec<TableRef>; 3] = Default::default();
    for (c, placed) in columns.iter_mut().enumerate() {
        let mut members: Vec<(f64, TableRef)> = tables
            .iter()
            .filter(|t| column(t.layer) == c)
            .map(|t| {
                let rows: Vec<usize> = upstream
                    .get(t)
                    .into_iter()
                    .flatten()
                    .filter_map(|u| row.get(*u).copied())
                    .collect();
                let centre = match rows.len() {
                    0 => f64::MAX,
                    n => rows.iter().sum::<usize>() as f64 / n as f64,
                };
                (centre, t.clone())
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (i, (_, t)) in members.iter().enumerate() {
            row.insert(t.clone(), i);
        }
        *placed = members.into_iter().map(|(_, t)| t).collect();
    }
    let mut nodes = Vec::new();
    let mut index: HashMap<TableRef, usize> = HashMap::new();
    for (c, members) in columns.iter().enumerate() {
        for (r, t) in members.iter().enumerate() {
            index.insert(t.clone(), nodes.len());
            let external = t.namespace.as_str() != namespace;
            nodes.push(Node {
                id: nodes.len(),
                table: t.to_string(),
                label: if external {
                    t.to_string()
                } else {
                    t.name.to_string()
                },
                path: format!("pipelines/{}/{}/{}", t.namespace, t.layer, t.name),
                x: 10.0 + c as f64 * COLUMN,
                y: TOP + r as f64 * ROW,
                external,
                status: None,
            });
        }
    }
    let edges = lineage
        .edges
        .iter()
        .filter_map(|e| {
            let (from, to) = (*index.get(&e.from)?, *index.get(&e.to)?);
            let (a, b) = (&nodes[from], &nodes[to]);
            let (x1, y1) = (a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2.0);
            let (x2, y2) = (b.x, b.y + NODE_HEIGHT / 2.0);
            let bend = (x2 - x1).abs() / 2.0;
            Some(Edge {
                from,
                to,
                d: format!(
                    "M{x1:.0},{y1:.0} C{:.0},{y1:.0} {:.0},{y2:.0} {x2:.0},{y2:.0}",
                    x1 + bend,
                    x2 - bend
                ),
            })
        })
        .collect();
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0);
    Drawing {
        nodes,
        edges,
        width: 20.0 + 2.0 * COLUMN + NODE_WIDTH,
        height: TOP + tallest as f64 * ROW + 10.0,
    }
}

pub(super) async fn page(
    shell: Shell,
    Api(api): Api,
    Query(form): Query<LineageForm>,
) -> PageResult {
    let namespace = match form.namespace.trim() {
        "" => rat_core::DEFAULT_NAMESPACE,
        given => given,
    };
    let lineage = api.lineage(Some(namespace)).await?;
    let mut drawing = layout(&lineage, namespace);
    // The newest run of each node among the recent ones.
    let runs = api
        .runs(&RunFilter {
            limit: Some(RECENT_RUNS),
            ..RunFilter::default()
        })
        .await?;
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for run in runs {
        last.entry(run.table.to_string())
            .or_insert_with(|| run.status.to_string());
    }
    for node in &mut drawing.nodes {
        node.status = last.get(&node.table).cloned();
    }
    let edges: Vec<[usize; 2]> = drawing.edges.iter().map(|e| [e.from, e.to]).collect();
    shell.page(
        "lineage.html",
        minijinja::context! {
            title => format!("Lineage of {namespace}"),
            section => "lineage",
            namespace => namespace,
            namespaces => namespace_names(api.as_ref()).await?,
            drawing => drawing,
            edges => serde_json::to_string(&edges).unwrap_or_default(),
            node_width => NODE_WIDTH,
            node_height => NODE_HEIGHT,
            columns => [("bronze", 10.0), ("silver", 10.0 + COLUMN), ("gold", 10.0 + 2.0 * COLUMN)],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::LineageEdge;

    fn t(name: &str) -> TableRef {
        name.parse().unwrap()
    }

    #[test]
    fn layers_are_columns_and_readers_sit_by_what_they_read() {
        let lineage = Lineage {
            nodes: [
                "default.bronze.a",
                "default.bronze.b",
                "default.silver.z",
                "default.gold.g",
            ]
            .map(t)
            .to_vec(),
            edges: vec![
                LineageEdge {
                    from: t("default.bronze.b"),
                    to: t("default.silver.z"),
                },
                LineageEdge {
                    from: t("other.silver.x"),
                    to: t("default.gold.g"),
                },
                LineageEdge {
                    from: t("default.silver.z"),
                    to: t("default.gold.g"),
                },
            ],
        };
        let d = layout(&lineage, "default");
        let at = |name: &str| d.nodes.iter().find(|n| n.table == name).unwrap();
        assert_eq!(
            (at("default.bronze.a").x, at("default.silver.z").x),
            (10.0, 330.0)
        );
        assert_eq!(at("default.gold.g").x, 650.0);
        // z reads b (row 1); x reads nothing drawn, so it goes last.
        assert_eq!(at("default.silver.z").y, TOP);
        assert!(at("other.silver.x").external && at("other.silver.x").y == TOP + ROW);
        assert_eq!(at("other.silver.x").label, "other.silver.x");
        assert_eq!(d.edges.len(), 3);
        assert!(d.edges[0].d.starts_with("M260,"), "{:?}", d.edges[0]);
        assert_eq!(d.height, TOP + 2.0 * ROW + 10.0);
    }
}
