//! The `rat` binary: commands, JSON output and exit codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::rat;
use serde_json::Value;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

#[test]
fn init_run_query_history_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("shop");
    let out = rat(tmp.path(), &["init", project.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        code(&rat(tmp.path(), &["init", project.to_str().unwrap()])),
        2,
        "init twice"
    );

    let out = rat(&project, &["run", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["status"], "success");
    assert_eq!(report["runs"].as_array().unwrap().len(), 5);
    assert!(
        report["runs"][1]["result"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("amount_not_negative")
    );
    assert_eq!(report["runs"][1]["executor"], "local");

    let gold = |project: &Path| {
        json(&rat(
            project,
            &[
                "query",
                "--json",
                "SELECT * FROM gold.top_customers ORDER BY customer_id",
            ],
        ))
    };
    let before = gold(&project);
    assert_eq!(before["rows"].as_array().unwrap().len(), 10);
    assert_eq!(code(&rat(&project, &["run"])), 0);
    assert_eq!(gold(&project), before);

    let history = json(&rat(&project, &["history", "--json", "bronze.orders"]));
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["current"], true);
    let first = history[1]["snapshot_id"].as_i64().unwrap().to_string();
    let out = rat(
        &project,
        &["rollback", "bronze.orders", "--to", &first, "--json"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["to"].as_i64().unwrap().to_string(), first);
    let history = json(&rat(&project, &["history", "--json", "bronze.orders"]));
    assert_eq!(history[0]["rollback"], true);
    assert_eq!(
        code(&rat(&project, &["rollback", "bronze.orders", "--to", "1"])),
        2
    );
    let tables = json(&rat(&project, &["tables", "--json"]));
    assert_eq!(tables.as_array().unwrap().len(), 5);
    assert_eq!(tables[1]["table"], "default.bronze.orders");
    assert_eq!(tables[1]["records"], 20000);

    // Text output on a non-terminal: one line per run and a summary.
    let out = rat(&project, &["run", "gold.top_customers"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("default.gold.top_customers"), "{text}");
    assert!(text.contains("1 succeeded, 0 failed, 0 skipped"), "{text}");
}

#[test]
fn query_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    std::fs::create_dir_all(project.join("pipelines/bronze/a")).unwrap();
    std::fs::write(
        project.join("pipelines/bronze/a/pipeline.sql"),
        "SELECT 1 AS id",
    )
    .unwrap();
    assert_eq!(code(&rat(project, &["run"])), 0);
    for sql in [
        "DROP TABLE bronze.a",
        "COPY (SELECT 1) TO 'x.csv'",
        "CREATE TABLE t AS SELECT 1",
        "ATTACH 'x.db'",
        "SELECT 1; DELETE FROM bronze.a",
    ] {
        let out = rat(project, &["query", sql]);
        assert_eq!(code(&out), 2, "{sql} was not refused");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("SELECT"),
            "{sql}"
        );
    }
    let out = rat(project, &["query", "SELECT * FROM read_csv('/etc/passwd')"]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused by the SQL sandbox") && stderr.contains("/etc/passwd"),
        "{stderr}"
    );
    assert!(!project.join("x.csv").exists());
    let out = json(&rat(
        project,
        &["query", "--json", "SELECT id FROM bronze.a"],
    ));
    assert_eq!(out["rows"][0][0], 1);
}

#[test]
fn failures_and_bad_input_have_distinct_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    let write = |rel: &str, text: &str| {
        let path = project.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("pipelines/bronze/a/pipeline.sql", "SELECT 1 AS id");
    write(
        "pipelines/silver/b/pipeline.sql",
        "SELECT id FROM {{ ref('bronze.a') }}",
    );
    write(
        "pipelines/silver/b/tests/quality/never.sql",
        "SELECT * FROM {{ this }}",
    );

    for bad in ["../x", "A b", "*"] {
        let out = rat(project, &["run", bad]);
        assert_eq!(code(&out), 2, "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad), "{bad}");
    }
    let out = rat(project, &["run", "--json"]);
    assert_eq!(code(&out), 1);
    let report = json(&out);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["runs"][1]["error"]["kind"], "quality_gate");
    assert_eq!(
        report["runs"][1]["result"]["quality"][0]["sample"]["rows"][0][0],
        "1"
    );

    write("pipelines/silver/b/config.yaml", "merge_strategy: upsert\n");
    let out = rat(project, &["run", "--json"]);
    assert_eq!(code(&out), 2);
    let err = json(&out);
    assert_eq!(err["error"]["kind"], "invalid_input");
    assert_eq!(err["error"]["file"], "pipelines/silver/b/config.yaml");

    let out = rat(&project.join("missing"), &["tables"]);
    assert_eq!(code(&out), 2);
}

/// Every file under the project's `.rat/warehouse`, with its size.
fn warehouse_files(project: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir::WalkDir::new(project.join(".rat/warehouse"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let size = e.metadata().unwrap().len();
            (e.path().to_string_lossy().into_owned(), size)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn maintain_dry_run_changes_nothing_and_reports_every_table() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("shop");
    assert_eq!(
        code(&rat(tmp.path(), &["init", project.to_str().unwrap()])),
        0
    );
    for _ in 0..2 {
        assert_eq!(code(&rat(&project, &["run"])), 0);
    }
    let before = warehouse_files(&project);
    let out = rat(&project, &["maintain", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let reports = json(&out);
    let tables = json(&rat(&project, &["tables", "--json"]));
    assert_eq!(
        reports.as_array().unwrap().len(),
        tables.as_array().unwrap().len()
    );
    assert!(
        reports
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["dry_run"] == true)
    );
    assert_eq!(warehouse_files(&project), before, "a dry run changed files");

    // A real pass on fresh tables: nothing is old enough to go, and every
    // table still reads the same.
    let count = |p: &Path| {
        json(&rat(
            p,
            &["query", "--json", "SELECT count(*) AS n FROM bronze.orders"],
        ))
    };
    let rows = count(&project);
    let out = rat(&project, &["maintain", "bronze.orders"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("default.bronze.orders"));
    assert_eq!(count(&project), rows);
    assert_eq!(
        code(&rat(&project, &["maintain", "--dry-run", "bronze.nothing"])),
        1
    );
}

#[test]
fn maintenance_settings_come_from_rat_yaml_and_from_the_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("shop");
    assert_eq!(
        code(&rat(tmp.path(), &["init", project.to_str().unwrap()])),
        0
    );
    for _ in 0..3 {
        assert_eq!(code(&rat(&project, &["run"])), 0);
    }
    // Project-wide: keep the last two snapshots of every table, whatever
    // their age; the customers pipeline keeps only its last.
    std::fs::write(
        project.join("rat.yaml"),
        "maintenance: {snapshot_retention: 0s, keep_last: 2}\nruns: {keep_runs: 5}\n",
    )
    .unwrap();
    let config = project.join("pipelines/bronze/customers/config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}maintenance:\n  keep_last: 1\n")).unwrap();

    let expired = |args: &[&str], table: &str| -> (usize, usize) {
        let mut all = vec!["maintain", "--dry-run", "--json", table];
        all.extend_from_slice(args);
        let out = rat(&project, &all);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let report = &json(&out)[0];
        let history = json(&rat(&project, &["history", "--json", table]));
        (
            report["expired_snapshots"].as_array().unwrap().len(),
            history.as_array().unwrap().len(),
        )
    };
    let rat_yaml = project.join("rat.yaml");
    let with_config = ["--config", rat_yaml.to_str().unwrap()];
    let (customers, customer_snapshots) = expired(&with_config, "bronze.customers");
    assert!(customer_snapshots >= 3, "{customer_snapshots}");
    assert_eq!(
        customers,
        customer_snapshots - 1,
        "the pipeline's keep_last: 1"
    );
    let (enriched, enriched_snapshots) = expired(&with_config, "silver.orders_enriched");
    assert_eq!(
        enriched,
        enriched_snapshots - 2,
        "the project's keep_last: 2"
    );
    // Without the file: the defaults (7 days), nothing expires yet.
    assert_eq!(expired(&[], "bronze.customers").0, 0);

    // A bad setting names the file and the field.
    std::fs::write(&config, format!("{text}maintenance:\n  keep_last: none\n")).unwrap();
    let out = rat(&project, &["maintain", "--dry-run", "bronze.customers"]);
    assert_eq!(code(&out), 2, "invalid input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.yaml") && err.contains("maintenance"),
        "{err}"
    );
    std::fs::write(project.join("rat.yaml"), "maintenance: {keep_lats: 2}\n").unwrap();
    let out = rat(
        &project,
        &[with_config[0], with_config[1], "maintain", "--dry-run"],
    );
    assert_eq!(code(&out), 2, "invalid input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keep_lats") && err.contains("maintenance"),
        "{err}"
    );
}

/// `rat init --python` adds a Python pipeline; `rat run` runs it after the
/// SQL it reads, in process and isolated, with the same rows SQL computes.
#[test]
fn init_python_runs_a_python_pipeline_in_dag_order() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("shop");
    let out = rat(tmp.path(), &["init", "--python", project.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    assert!(
        project
            .join("pipelines/gold/customer_bands/pipeline.py")
            .is_file()
    );
    let bands = "SELECT band, count(*) AS n FROM gold.customer_bands GROUP BY band ORDER BY band";
    let from_sql = "SELECT CASE WHEN s >= 500 THEN 'high' WHEN s >= 100 THEN 'medium' ELSE 'low' END AS band, \
        count(*) AS n FROM (SELECT customer_id, sum(amount) AS s FROM silver.orders_enriched GROUP BY 1) \
        GROUP BY 1 ORDER BY 1";
    for isolate in [false, true] {
        let mut args = vec!["run", "--json"];
        if isolate {
            args.push("--isolate");
        }
        let out = rat(&project, &args);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        let report = json(&out);
        let order: Vec<&str> = report["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["table"].as_str().unwrap())
            .collect();
        let at = |t: &str| order.iter().position(|x| *x == t).unwrap();
        assert!(at("default.silver.orders_enriched") < at("default.gold.customer_bands"));
        let got = json(&rat(&project, &["query", "--json", bands]));
        let want = json(&rat(&project, &["query", "--json", from_sql]));
        assert_eq!(got["rows"], want["rows"]);
        assert!(!got["rows"].as_array().unwrap().is_empty());
    }
}

#[test]
fn test_preview_and_compile_write_nothing_and_say_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("shop");
    assert_eq!(
        code(&rat(tmp.path(), &["init", project.to_str().unwrap()])),
        0
    );

    // Before any run: compile works, tests have no table to read.
    let out = rat(&project, &["compile", "bronze.orders"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FROM range(1, 20001)"));
    let out = rat(&project, &["test", "bronze.orders"]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("run its pipeline"));

    assert_eq!(code(&rat(&project, &["run"])), 0);
    let before = json(&rat(
        &project,
        &["history", "--json", "silver.orders_enriched"],
    ));

    // The sample's warn-level test fails; nothing blocks: exit 0.
    let out = rat(&project, &["test", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let reports = json(&out);
    assert_eq!(reports.as_array().unwrap().len(), 5);
    assert!(
        reports
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["report"]["passed"] == true)
    );
    let out = rat(&project, &["test", "--only", "order_id_not_null"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("order_id_not_null") && !text.contains("amount_not_negative"),
        "{text}"
    );

    let out = rat(
        &project,
        &[
            "preview",
            "--json",
            "silver.orders_enriched",
            "--limit",
            "4",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["rows"].as_array().unwrap().len(), 4);

    // Unsaved SQL from a file; its error names the line.
    let draft = project.join("draft.sql");
    std::fs::write(
        &draft,
        "SELECT\n  order_id,\n  nope\nFROM {{ ref('bronze.orders') }}",
    )
    .unwrap();
    let out = rat(
        &project,
        &[
            "preview",
            "silver.orders_enriched",
            "--sql",
            draft.to_str().unwrap(),
        ],
    );
    // The SQL failed: a failed command (1), its line named.
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"nope\" not found") && err.contains("line: 3"),
        "{err}"
    );
    assert_eq!(
        json(&rat(
            &project,
            &["history", "--json", "silver.orders_enriched"]
        )),
        before
    );
}
