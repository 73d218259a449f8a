//! Every command that exists locally and with `--server` gives the same
//! output both ways: the local project's embedded platform and a real
//! `rat serve` over the same folder (API key auth, token from RAT_TOKEN)
//! answer through one trait. Reads are compared byte for byte; a command
//! that makes something new each time (`run`, `schedules add|delete`) is
//! compared byte for byte once its new ids, times and durations are
//! masked.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;

use common::both::*;

#[test]
fn every_command_answers_the_same_locally_and_through_a_server() {
    let (dir, served) = sample_served();
    let project = dir.path();

    // run: the whole DAG, upstream first; the remote one through the
    // server's executor. Two executions: compared masked.
    let (local, remote) = both(project, &served, &["--json", "run"]);
    same_masked(&local, &remote, "run");
    let report = json(&remote);
    assert_eq!(report["status"], "success", "{report}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[4]["table"], "default.gold.top_customers");
    assert_eq!(runs[4]["executor"], "local");
    let run = runs[0]["run_id"].as_str().unwrap();
    let (local, remote) = both(
        project,
        &served,
        &["--json", "run", "silver.orders_enriched", "--downstream"],
    );
    same_masked(&local, &remote, "run --downstream");
    assert_eq!(json(&local)["runs"].as_array().unwrap().len(), 3);

    // Reads: byte for byte.
    for args in [
        vec!["--json", "tables"],
        vec!["--json", "pipelines"],
        vec!["--json", "runs", "--limit", "20"],
        vec![
            "--json",
            "runs",
            "--since",
            "2020-01-01",
            "--until",
            "2100-01-01",
        ],
        vec!["runs", "--since", "2100-01-01"],
        vec![
            "--json",
            "runs",
            "--table",
            "bronze.orders",
            "--status",
            "success",
        ],
        vec!["--json", "logs", run],
        vec!["--json", "logs", "-f", run],
        vec!["logs", run],
        vec![
            "--json",
            "query",
            "SELECT count(*) AS n FROM gold.top_customers",
        ],
        vec![
            "query",
            "SELECT * FROM silver.orders_enriched ORDER BY 1 LIMIT 3",
        ],
        vec!["--json", "history", "bronze.orders"],
        vec!["history", "bronze.orders"],
        vec!["tables"],
        vec!["runs", "--limit", "3"],
        vec!["--json", "maintain", "--dry-run"],
        vec!["maintain", "--dry-run", "bronze.orders"],
    ] {
        same(project, &served, &args);
    }
    // Dry runs: untimed text byte for byte, timed JSON masked.
    for args in [
        vec!["compile", "silver.orders_enriched"],
        vec!["test"],
        vec!["test", "bronze.orders", "--only", "order_id_not_null"],
    ] {
        same(project, &served, &args);
    }
    for args in [
        vec!["--json", "preview", "gold.top_customers", "--limit", "3"],
        vec!["--json", "test"],
    ] {
        let (local, remote) = both(project, &served, &args);
        same_masked(&local, &remote, &args.join(" "));
    }
    let logs = String::from_utf8_lossy(&same(project, &served, &["logs", run]).stdout).into_owned();
    assert!(logs.contains("INFO"), "{logs}");

    // rollback: to where main is is the same no-op both ways; a real one
    // is seen by both.
    let history = json(&same(
        project,
        &served,
        &["--json", "history", "bronze.orders"],
    ));
    let current = history[0]["snapshot_id"].to_string();
    let earlier = history[1]["snapshot_id"].to_string();
    same(
        project,
        &served,
        &["--json", "rollback", "bronze.orders", "--to", &current],
    );
    let moved = remote_rat(
        &served,
        Some(KEY),
        &["--json", "rollback", "bronze.orders", "--to", &earlier],
    );
    assert_eq!(json(&moved)["to"].to_string(), earlier);
    let history = json(&same(
        project,
        &served,
        &["--json", "history", "bronze.orders"],
    ));
    assert_eq!(history[0]["rollback"], true);

    // schedules: added both ways, listed the same, deleted both ways.
    let add = [
        "--json",
        "schedules",
        "add",
        "bronze.orders",
        "--cron",
        "0 6 * * *",
    ];
    let (local, remote) = both(project, &served, &add);
    same_masked(&local, &remote, "schedules add");
    let listed = json(&same(project, &served, &["--json", "schedules"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    same(project, &served, &["schedules"]);
    let (local_id, remote_id) = (
        json(&local)["id"].as_str().unwrap().to_owned(),
        json(&remote)["id"].as_str().unwrap().to_owned(),
    );
    let deleted_here = common::rat(project, &["--json", "schedules", "delete", &local_id]);
    let deleted_there = remote_rat(
        &served,
        Some(KEY),
        &["--json", "schedules", "delete", &remote_id],
    );
    same_masked(&deleted_here, &deleted_there, "schedules delete");
    assert_eq!(
        json(&same(project, &served, &["--json", "schedules"])),
        Value::Array(vec![])
    );

    // landing: a zone made here, files uploaded both ways (streamed over
    // HTTP the second time), listed and previewed the same, removed.
    std::fs::write(project.join("a.csv"), "id,city\n1,Oslo\n2,Lima\n").unwrap();
    std::fs::write(project.join("b.csv"), "id,city\n3,Pune\n").unwrap();
    let made = common::rat(
        project,
        &["--json", "landing", "create", "drops", "--format", "csv"],
    );
    assert_eq!(json(&made)["expected_format"], "csv", "{made:?}");
    let here = project.join("a.csv").display().to_string();
    let there = project.join("b.csv").display().to_string();
    let local = common::rat(project, &["--json", "landing", "upload", "drops", &here]);
    let remote = remote_rat(
        &served,
        Some(KEY),
        &["--json", "landing", "upload", "drops", &there],
    );
    assert_eq!(json(&local)["files"][0]["size"], 22, "{local:?}");
    assert_eq!(json(&remote)["files"][0]["name"], "b.csv", "{remote:?}");
    for args in [
        vec!["--json", "landing"],
        vec!["landing", "list"],
        vec!["--json", "landing", "ls", "drops"],
        vec!["--json", "landing", "preview", "drops", "a.csv"],
        vec!["landing", "preview", "drops", "b.csv", "--rows", "1"],
    ] {
        same(project, &served, &args);
    }
    let preview = json(&same(
        project,
        &served,
        &["--json", "landing", "preview", "drops", "a.csv"],
    ));
    assert_eq!(preview["schema"][1]["name"], "city", "{preview}");
    assert_eq!(preview["rows"][1][1], "Lima", "{preview}");
    let (local, remote) = (
        common::rat(project, &["--json", "landing", "rm", "drops", "a.csv"]),
        remote_rat(
            &served,
            Some(KEY),
            &["--json", "landing", "rm", "drops", "b.csv"],
        ),
    );
    assert_eq!(json(&local)["deleted"][0], "a.csv");
    assert_eq!(json(&remote)["deleted"][0], "b.csv");
    assert_eq!(
        json(&same(
            project,
            &served,
            &["--json", "landing", "ls", "drops"]
        )),
        Value::Array(vec![])
    );

    // versions: a save through the server (its author the API key),
    // listed and shown the same both ways; a rollback made here is a new
    // version both see.
    let customers: rat_core::TableRef = "bronze.customers".parse().unwrap();
    same(project, &served, &["versions", "bronze.customers"]);
    let client = rat_server::client::Client::new(&served.url, Some(KEY.to_owned().into())).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let saved = runtime.block_on(async {
        use rat_server::api::PlatformApi;
        let mut save =
            rat_server::api::SavePipeline::from(client.pipeline(&customers).await.unwrap().files());
        save.message = Some("a blank line at the end".into());
        save.files.sql = save.files.sql.map(|sql| format!("{sql}\n"));
        client.replace_pipeline(&customers, &save).await.unwrap()
    });
    assert_eq!(saved.version.as_ref().unwrap().version, 2, "{saved:?}");
    for args in [
        vec!["versions", "bronze.customers"],
        vec!["--json", "versions", "bronze.customers"],
        vec!["versions", "bronze.customers", "--show", "1"],
        vec!["--json", "versions", "bronze.customers", "--show", "2"],
    ] {
        same(project, &served, &args);
    }
    let listed = json(&same(
        project,
        &served,
        &["--json", "versions", "bronze.customers"],
    ));
    assert_eq!(listed[0]["author"], "api-key", "{listed}");
    let back = common::rat(
        project,
        &[
            "versions",
            "bronze.customers",
            "--rollback",
            "1",
            "-m",
            "undo",
        ],
    );
    assert!(
        String::from_utf8_lossy(&back.stdout).contains("published again as version 3"),
        "{back:?}"
    );
    let listed = json(&same(
        project,
        &served,
        &["--json", "versions", "bronze.customers"],
    ));
    assert_eq!(listed[0]["message"], "undo", "{listed}");

    // triggers: a landing schedule added both ways; a webhook schedule made
    // through the server, fired with its token, its firings read the same
    // both ways.
    let add = [
        "--json",
        "schedules",
        "add",
        "bronze.customers",
        "--landing",
        "drops",
        "--match",
        "*.csv",
    ];
    let (local, remote) = both(project, &served, &add);
    same_masked(&local, &remote, "schedules add --landing");
    assert_eq!(json(&local)["trigger"]["pattern"], "*.csv", "{local:?}");
    let made = json(&remote_rat(
        &served,
        Some(KEY),
        &[
            "--json",
            "schedules",
            "add",
            "bronze.customers",
            "--webhook",
        ],
    ));
    let webhook_id = made["id"].as_str().unwrap().to_owned();
    let token = made["webhook_token"].as_str().unwrap().to_owned();
    let fired = runtime.block_on(async {
        use rat_server::api::TriggersApi;
        let fired = client.fire_webhook(&webhook_id, &token).await.unwrap();
        common::wait_for_end(&client, fired.run_id.as_ref().unwrap()).await;
        let wrong = client.fire_webhook(&webhook_id, "not-the-token").await;
        assert_eq!(wrong.unwrap_err().kind(), rat_core::ErrorKind::Unauthorized);
        fired
    });
    let shown = json(&same(
        project,
        &served,
        &["--json", "schedules", "firings", &webhook_id],
    ));
    assert_eq!(shown[0]["id"], fired.id.as_str(), "{shown}");
    same(project, &served, &["schedules", "firings", &webhook_id]);
    same(project, &served, &["schedules"]);
    for schedule in json(&same(project, &served, &["--json", "schedules"]))
        .as_array()
        .unwrap()
    {
        let id = schedule["id"].as_str().unwrap();
        let out = common::rat(project, &["schedules", "delete", id]);
        assert!(out.status.success(), "{out:?}");
    }

    // notifications: a hook added through the server, listed and its
    // deliveries read the same both ways, removed here.
    let made = json(&remote_rat(
        &served,
        Some(KEY),
        &[
            "--json",
            "notifications",
            "add",
            "http://127.0.0.1:9/hook",
            "--event",
            "run_failed,schedule_skipped",
        ],
    ));
    let hook_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["secret"].as_str().unwrap().len(), 64, "{made}");
    for args in [
        vec!["notifications"],
        vec!["--json", "notifications"],
        vec!["--json", "notifications", "deliveries", &hook_id],
    ] {
        same(project, &served, &args);
    }
    let listed = json(&same(project, &served, &["--json", "notifications"]));
    assert!(listed[0].get("secret").is_none(), "{listed}");
    let removed = common::rat(project, &["notifications", "rm", &hook_id]);
    assert!(removed.status.success(), "{removed:?}");

    // Failures: the same message, context and exit code.
    for (args, code) in [
        (vec!["--json", "landing", "ls", "nothing"], 1),
        (vec!["--json", "landing", "create", "../x"], 2),
        (vec!["--json", "landing", "preview", "drops", "a.csv"], 1),
        (vec!["--json", "landing", "rm", "drops", "../a.csv"], 2),
        (vec!["--json", "cancel", run], 1),
        (vec!["cancel", run], 1),
        (vec!["--json", "run", "gold.nothing"], 1),
        (vec!["--json", "run", "../x"], 2),
        (vec!["--json", "runs", "--status", "done"], 2),
        (vec!["--json", "history", "bronze.nothing"], 1),
        (
            vec!["--json", "versions", "bronze.customers", "--show", "99"],
            1,
        ),
        (vec!["--json", "versions", "bronze.nothing"], 1),
        (vec!["--json", "schedules", "firings", "nope"], 1),
        (vec!["--json", "notifications", "rm", "nope"], 1),
        (vec!["--json", "notifications", "--namespace", "../x"], 2),
        (
            vec![
                "--json",
                "notifications",
                "add",
                "ftp://x",
                "--event",
                "run_failed",
            ],
            2,
        ),
        (
            vec![
                "--json",
                "schedules",
                "add",
                "bronze.orders",
                "--landing",
                "nowhere",
            ],
            1,
        ),
        (
            vec!["schedules", "add", "bronze.orders", "--match", "*.csv"],
            2,
        ),
        (vec!["--json", "maintain", "bronze.nothing"], 1),
        (
            vec!["--json", "logs", "0195f3a27c1e7b409d2a3c4f5e6a7b8c"],
            1,
        ),
        (vec!["--json", "query", "DELETE FROM bronze.orders"], 2),
        (vec!["--json", "query", "SELECT * FROM bronze.nothing"], 1),
        (vec!["--json", "rollback", "bronze.orders", "--to", "42"], 2),
        (
            vec![
                "--json",
                "schedules",
                "add",
                "bronze.nothing",
                "--cron",
                "0 6 * * *",
            ],
            1,
        ),
        (
            vec![
                "--json",
                "schedules",
                "add",
                "bronze.orders",
                "--cron",
                "every day",
            ],
            2,
        ),
    ] {
        let out = same(project, &served, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    }
    let (local, remote) = both(project, &served, &["--json", "cancel", run]);
    assert!(
        String::from_utf8_lossy(&local.stdout).contains("already ended"),
        "{local:?}"
    );
    assert_eq!(local.stdout, remote.stdout);

    // Local-only commands say so; auth is the server's.
    let local_only = remote_rat(&served, Some(KEY), &["config"]);
    assert_eq!(local_only.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&local_only.stderr).contains("not available with --server"));
    assert_eq!(
        remote_rat(&served, Some(KEY), &["run", "--isolate"])
            .status
            .code(),
        Some(2)
    );
    let refused = remote_rat(&served, None, &["runs"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("API key"),
        "{refused:?}"
    );
    let wrong = remote_rat(&served, Some("not-the-key"), &["runs"]);
    assert!(!String::from_utf8_lossy(&wrong.stderr).contains("not-the-key"));
}
