//! The images of deploy/images, built offline from the workspace's own
//! binaries (deploy/images/build.py, as scripts/images.sh does), then used
//! the way a container runtime would: the runner image's layer unpacked
//! and the sample project's pipelines — and a Python pipeline — run by its
//! `rat-runner` inside it, chrooted, with the image's environment only, as
//! its non-root user, the image's root mounted read-only and a tmpfs on
//! /tmp (the task definition's scratch volume); both images answer their
//! health checks. No secret may be in a layer: the build refuses one,
//! shown with a planted key.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../rat-cloud-aws/tests/common/moto.rs"]
mod moto;
#[path = "../../examples/aws-fargate/tests/common/task_player.rs"]
mod task_player;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: . scripts/env.sh"))
}

/// Runs build.py for `image` with `extensions` as the extension folder.
fn build(image: &str, out: &Path, extensions: &Path) -> Output {
    let mut command = Command::new("python3");
    command
        .arg(repo().join("deploy/images/build.py"))
        .arg(image)
        .arg("--binaries")
        .arg(task_player::binaries())
        .arg("--duckdb-lib")
        .arg(Path::new(&env("DUCKDB_LIB_DIR")).join("libduckdb.so"))
        .arg("--extensions")
        .arg(extensions)
        .arg("--out")
        .arg(out)
        .args(["--tag", "test", "--forbid", "rat-test-admin-secret"]);
    if image == "runner" {
        command.arg("--python").arg(env("RAT_VENV"));
    }
    command.output().unwrap()
}

/// Builds `image` (`runner`, `server`) in `dir` with the workspace's
/// binaries, reports its size, checks its Containerfile says the same, and
/// unpacks its layer: the image's config and its root.
fn built(image: &str, dir: &Path) -> (Value, PathBuf) {
    let name = if image == "runner" {
        "rat-runner"
    } else {
        "rat"
    };
    let extensions = PathBuf::from(env("RAT_DUCKDB_EXTENSION_DIR"));
    let made = build(image, &dir.join(name), &extensions);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let summary: Value = serde_json::from_slice(&made.stdout).unwrap();
    eprintln!(
        "{name} image (debug binaries, stripped): {} bytes in {} files",
        summary["layer_bytes"], summary["files"]
    );
    let (config, layer) = open_layout(&dir.join(name));
    assert_containerfile_matches(image, &config);
    let root = dir.join("root");
    unpack(&layer, &root);
    (config, root)
}

/// An image's config and its one layer's path, from its OCI layout.
fn open_layout(layout: &Path) -> (Value, PathBuf) {
    let read = |digest: &str| -> Value {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index = read_json(&layout.join("index.json"));
    let manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let config = read(manifest["config"]["digest"].as_str().unwrap());
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let layer = layers[0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    (config, layout.join("blobs/sha256").join(layer))
}

/// The Containerfile of `image` describes the image build.py made: the
/// same environment, user and entry point.
fn assert_containerfile_matches(image: &str, config: &Value) {
    let text = std::fs::read_to_string(repo().join(format!("deploy/images/Containerfile.{image}")))
        .unwrap();
    let line = |instruction: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{instruction} ")))
            .unwrap_or_else(|| panic!("Containerfile.{image} has no {instruction}"))
            .to_owned()
    };
    let mut written: Vec<String> = line("ENV").split(' ').map(str::to_owned).collect();
    let mut built: Vec<String> = serde_json::from_value(config["config"]["Env"].clone()).unwrap();
    written.sort();
    built.sort();
    assert_eq!(written, built, "Containerfile.{image} ENV");
    assert_eq!(line("USER"), config["config"]["User"].as_str().unwrap());
    let entrypoint: Value = serde_json::from_str(&line("ENTRYPOINT")).unwrap();
    assert_eq!(entrypoint, config["config"]["Entrypoint"]);
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn unpack(layer: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(layer)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `script` (sh) where `$ROOT` is the image's root mounted read-only
/// with a tmpfs on /tmp holding `stage`'s files and /dev and /proc as a
/// runtime provides them, and `$IN` runs a command
/// in it: chrooted, with the image's environment only, as the image's user
/// (as root outside; as the invoking user in a user namespace otherwise).
fn in_image(root: &Path, config: &Value, stage: &Path, script: &str) -> Output {
    let environment: Vec<String> = config["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // `$IN` is split on spaces by the shell, which the image's values hold none of.
    assert!(
        environment.iter().all(|v| !v.contains([' ', '\'', '"'])),
        "{environment:?}"
    );
    let user = config["config"]["User"].as_str().unwrap();
    let root_user = rustix::process::geteuid().is_root();
    let (unshare, userspec, chown) = if root_user {
        (
            vec!["-m"],
            format!("--userspec={user}"),
            format!("chown -R {user} \"$ROOT/tmp\""),
        )
    } else {
        (vec!["-r", "-m"], String::new(), String::new())
    };
    let prelude = format!(
        "set -e\n\
         mount --bind \"$ROOT\" \"$ROOT\" && mount -o remount,ro,bind \"$ROOT\"\n\
         mount -t tmpfs -o mode=1777 tmpfs \"$ROOT/tmp\"\n\
         mount --rbind /dev \"$ROOT/dev\" && mount --rbind /proc \"$ROOT/proc\"\n\
         cp -r \"$STAGE\"/. \"$ROOT/tmp/\"\n\
         {chown}\n\
         IN=\"env -i {env} /usr/sbin/chroot {userspec} $ROOT\"\n",
        env = environment.join(" "),
    );
    Command::new("unshare")
        .args(unshare)
        .args(["sh", "-c", &format!("{prelude}{script}")])
        .env("ROOT", root)
        .env("STAGE", stage)
        .output()
        .unwrap()
}

/// A folder under `dir` whose `project/` is the sample project: what the
/// image's /tmp receives.
fn stage_sample(dir: &Path) -> PathBuf {
    let stage = dir.join("stage");
    std::fs::create_dir_all(stage.join("project")).unwrap();
    common::copy_tree(
        &repo().join("examples/sample-project"),
        &stage.join("project"),
    );
    stage
}

/// The runner input of `pipeline` of the embedded project at /tmp/project.
fn input(pipeline: &str) -> String {
    let table: rat_core::TableRef = pipeline.parse().unwrap();
    let project = Path::new("/tmp/project");
    serde_json::to_string(&rat_core::runner::RunnerInput {
        spec: rat_core::RunSpec::new(table),
        lakehouse: rat_core::LakehouseConfig::embedded(project),
        sql_access: rat_core::config::SqlAccess::Strict,
        python: None,
        python_workers: None,
    })
    .unwrap()
}

#[test]
fn the_runner_image_runs_the_sample_project_from_its_own_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = built("runner", dir.path());
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/local/bin/rat-runner"])
    );
    for needed in [
        "usr/local/bin/rat-runner",
        "usr/local/bin/rat-aws-credentials",
        "usr/lib/libduckdb.so",
        "opt/python/bin/python3",
        "etc/ssl/certs/ca-certificates.crt",
    ] {
        assert!(root.join(needed).exists(), "{needed} is not in the image");
    }

    // The sample project and a Python pipeline over it, one input per run.
    let stage = stage_sample(dir.path());
    std::fs::create_dir_all(stage.join("project/pipelines/gold/customer_bands")).unwrap();
    std::fs::copy(
        repo().join("examples/python-pipeline/pipeline.py"),
        stage.join("project/pipelines/gold/customer_bands/pipeline.py"),
    )
    .unwrap();
    let order = [
        "bronze.customers",
        "bronze.orders",
        "silver.orders_enriched",
        "gold.revenue_by_country",
        "gold.top_customers",
        "gold.customer_bands",
    ];
    std::fs::create_dir_all(stage.join("inputs")).unwrap();
    // The image's health check first: DuckDB with httpfs, Python with its packages.
    let mut script = String::from("$IN /usr/local/bin/rat-runner --check\n");
    for (i, pipeline) in order.iter().enumerate() {
        std::fs::write(stage.join(format!("inputs/{i}.json")), input(pipeline)).unwrap();
        script.push_str(&format!(
            "$IN /usr/local/bin/rat-runner --spec /tmp/inputs/{i}.json | tail -1\n"
        ));
    }
    // Nothing outside /tmp is writable, not even by root.
    script
        .push_str("if touch \"$ROOT/usr/local/bin/x\" 2>/dev/null; then echo writable-root; fi\n");
    let ran = in_image(&root, &config, &stage, &script);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        !stdout.contains("writable-root"),
        "the image's root was writable"
    );
    let results: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), order.len() + 1, "{stdout}");
    assert_eq!(results[0]["httpfs"], true, "{}", results[0]);
    assert!(
        results[0]["python"].as_str().unwrap().starts_with("3."),
        "{}",
        results[0]
    );
    for (pipeline, result) in order.iter().zip(&results[1..]) {
        assert_eq!(result["status"], "success", "{pipeline}: {result}");
        assert!(
            result["rows_written"].as_u64().unwrap() > 0,
            "{pipeline}: {result}"
        );
    }
}

#[test]
fn the_server_image_answers_its_health_check() {
    let dir = tempfile::tempdir().unwrap();
    let (config, root) = built("server", dir.path());
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["serve"]));
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
    let stage = stage_sample(dir.path());
    let ran = in_image(
        &root,
        &config,
        &stage,
        "$IN /usr/local/bin/rat --project /tmp/project health\n",
    );
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(stdout.trim_end().ends_with("ready"), "{stdout}");
}

#[test]
fn a_secret_in_what_an_image_would_hold_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    // An extension folder someone dropped a key into.
    let extensions = dir.path().join("extensions");
    std::fs::create_dir_all(&extensions).unwrap();
    common::copy_tree(Path::new(&env("RAT_DUCKDB_EXTENSION_DIR")), &extensions);
    std::fs::write(
        extensions.join("notes.txt"),
        format!("aws_access_key_id = AKIA{}\n", "Q3MPLE7EXAMPLE7K"),
    )
    .unwrap();
    let built = build("server", &dir.path().join("rat"), &extensions);
    assert!(!built.status.success());
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("notes.txt") && said.contains("refusing"),
        "{said}"
    );
    assert!(
        !dir.path().join("rat/index.json").exists(),
        "an image was written"
    );
}
