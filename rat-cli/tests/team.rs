//! The team's verbs — `whoami`, `share`/`unshare`/`grants`, `namespaces`
//! with their members, `audit` — answer the same locally and through a
//! server (the helpers of both_ways.rs).
#![allow(clippy::unwrap_used)]

mod common;

use common::both::*;

/// The team's verbs — who you are, sharing, namespaces — answer the same
/// locally and through a server.
#[test]
fn team_verbs_answer_the_same_locally_and_through_a_server() {
    let (dir, served) = sample_served();
    let project = dir.path();

    // whoami: the server's API key is its admin; here, whoever runs rat.
    let remote = json(&remote_rat(&served, Some(KEY), &["--json", "whoami"]));
    assert_eq!(
        (&remote["id"], &remote["admin"]),
        (&serde_json::json!("api-key"), &serde_json::json!(true)),
        "{remote}"
    );
    let local = json(&common::rat(project, &["--json", "whoami"]));
    assert_eq!(local["admin"], true, "{local}");
    assert_eq!(local["namespaces"], remote["namespaces"], "{local}");

    // sharing: a grant made through the server, listed the same both ways,
    // revoked here.
    let made = json(&remote_rat(
        &served,
        Some(KEY),
        &[
            "--json",
            "share",
            "default.gold.*",
            "role:analyst",
            "--level",
            "read",
        ],
    ));
    let grant = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["granted_by"], "api-key", "{made}");
    for args in [vec!["grants"], vec!["--json", "grants"]] {
        same(project, &served, &args);
    }
    let revoked = common::rat(project, &["unshare", &grant]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        json(&same(project, &served, &["--json", "grants"])),
        serde_json::json!([])
    );

    // namespaces: made here, described through the server, listed the
    // same both ways, deleted through the server.
    let made = common::rat(project, &["namespaces", "create", "sales", "-d", "orders"]);
    assert!(made.status.success(), "{made:?}");
    let described = remote_rat(
        &served,
        Some(KEY),
        &["--json", "namespaces", "describe", "sales", "orders, daily"],
    );
    assert_eq!(
        json(&described)["description"],
        "orders, daily",
        "{described:?}"
    );
    for args in [vec!["namespaces"], vec!["--json", "namespaces"]] {
        same(project, &served, &args);
    }
    let listed = json(&same(project, &served, &["--json", "namespaces"]));
    assert!(
        listed
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"name": "sales", "description": "orders, daily"})),
        "{listed}"
    );
    // members: added through the server, listed the same both ways,
    // removed here.
    let added = remote_rat(
        &served,
        Some(KEY),
        &[
            "--json",
            "namespaces",
            "members",
            "sales",
            "--add",
            "role:analyst",
        ],
    );
    assert_eq!(
        json(&added),
        serde_json::json!({"namespace": "sales", "members": ["role:analyst"]}),
        "{added:?}"
    );
    for args in [
        vec!["namespaces", "members", "sales"],
        vec!["--json", "namespaces", "members", "sales"],
    ] {
        same(project, &served, &args);
    }
    let dropped = common::rat(
        project,
        &[
            "--json",
            "namespaces",
            "members",
            "sales",
            "--remove",
            "role:analyst",
        ],
    );
    assert_eq!(
        json(&dropped)["members"],
        serde_json::json!([]),
        "{dropped:?}"
    );
    let removed = remote_rat(&served, Some(KEY), &["--json", "namespaces", "rm", "sales"]);
    assert_eq!(json(&removed)["pipelines"], 0, "{removed:?}");
    let listed = json(&same(project, &served, &["--json", "namespaces"]));
    assert!(!listed.to_string().contains("sales"), "{listed}");

    // audit: what went through the server, read the same both ways (the
    // run store is the project's); what was done here directly is not a
    // request, so not in it.
    let audit = json(&same(
        project,
        &served,
        &["--json", "audit", "--principal", "api-key", "--verb", "PUT"],
    ));
    let verbs: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    assert_eq!(
        verbs,
        ["PUT /api/v1/namespaces/{namespace}/members/{member}"],
        "{audit}"
    );
    assert_eq!(
        audit[0]["object"],
        "/api/v1/namespaces/sales/members/role:analyst"
    );
    assert_eq!(audit[0]["outcome"], "ok");
    same(project, &served, &["audit", "--object", "/api/v1/sharing"]);

    // Failures: the same message, context and exit code.
    for (args, code) in [
        (vec!["--json", "namespaces", "rm", "nope"], 1),
        (vec!["--json", "unshare", "nope"], 1),
        (vec!["--json", "share", "x", "role:a"], 2),
        (vec!["--json", "share", "default.gold.*", "ann"], 2),
        (vec!["--json", "namespaces", "rm", "default"], 2),
        (vec!["--json", "namespaces", "create", "Bad"], 2),
        (
            vec!["--json", "namespaces", "members", "default", "--add", "ann"],
            2,
        ),
        (vec!["--json", "audit", "--outcome", "maybe"], 2),
        (vec!["--json", "audit", "--since", "yesterday"], 2),
        (
            vec!["--json", "namespaces", "describe", "default", "bell\u{7}"],
            2,
        ),
    ] {
        let out = same(project, &served, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    }
}
