//! `rat init`: scaffold the sample project.

use std::path::Path;

use rat_core::{Error, Result};
use serde_json::json;

use crate::output::{EXIT_OK, print_json};

/// The sample project of `examples/sample-project`, compiled in.
const SAMPLE: &[(&str, &str)] = &[
    (
        "pipelines/bronze/customers/pipeline.sql",
        include_str!("../../../examples/sample-project/pipelines/bronze/customers/pipeline.sql"),
    ),
    (
        "pipelines/bronze/customers/config.yaml",
        include_str!("../../../examples/sample-project/pipelines/bronze/customers/config.yaml"),
    ),
    (
        "pipelines/bronze/customers/tests/quality/unique_customer_id.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/bronze/customers/tests/quality/unique_customer_id.sql"
        ),
    ),
    (
        "pipelines/bronze/orders/pipeline.sql",
        include_str!("../../../examples/sample-project/pipelines/bronze/orders/pipeline.sql"),
    ),
    (
        "pipelines/bronze/orders/tests/quality/order_id_not_null.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/bronze/orders/tests/quality/order_id_not_null.sql"
        ),
    ),
    (
        "pipelines/bronze/orders/tests/quality/amount_not_negative.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/bronze/orders/tests/quality/amount_not_negative.sql"
        ),
    ),
    (
        "pipelines/silver/orders_enriched/pipeline.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/silver/orders_enriched/pipeline.sql"
        ),
    ),
    (
        "pipelines/silver/orders_enriched/config.yaml",
        include_str!(
            "../../../examples/sample-project/pipelines/silver/orders_enriched/config.yaml"
        ),
    ),
    (
        "pipelines/silver/orders_enriched/tests/quality/every_order_has_a_country.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/silver/orders_enriched/tests/quality/every_order_has_a_country.sql"
        ),
    ),
    (
        "pipelines/gold/revenue_by_country/pipeline.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/gold/revenue_by_country/pipeline.sql"
        ),
    ),
    (
        "pipelines/gold/revenue_by_country/tests/quality/one_row_per_country_month.sql",
        include_str!(
            "../../../examples/sample-project/pipelines/gold/revenue_by_country/tests/quality/one_row_per_country_month.sql"
        ),
    ),
    (
        "pipelines/gold/top_customers/pipeline.sql",
        include_str!("../../../examples/sample-project/pipelines/gold/top_customers/pipeline.sql"),
    ),
    (".gitignore", ".rat/\n"),
];

/// `rat init --python`: a Python pipeline over the sample's tables.
const PYTHON: (&str, &str) = (
    "pipelines/gold/customer_bands/pipeline.py",
    include_str!("../../../examples/python-pipeline/pipeline.py"),
);

pub(crate) fn init(dir: &Path, python: bool, json: bool) -> Result<u8> {
    if dir.join("pipelines").exists() {
        return Err(Error::invalid(format!(
            "'{}' already holds a project (pipelines/ exists); choose an empty folder",
            dir.display()
        )));
    }
    let files: Vec<&(&str, &str)> = SAMPLE.iter().chain(python.then_some(&PYTHON)).collect();
    for (relative, content) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    if json {
        print_json(&json!({ "project": dir, "files": files.len() }));
    } else {
        println!("Created a sample project in {}.", dir.display());
        println!("Run it with:  rat --project {} run", dir.display());
    }
    Ok(EXIT_OK)
}
