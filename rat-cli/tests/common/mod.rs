//! Running the `rat` binary from tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod both;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn command(project: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rat"));
    command.arg("--project").arg(project).args(args);
    command
}

/// Runs `rat --project <project> <args>` to completion.
pub fn rat(project: &Path, args: &[&str]) -> Output {
    command(project, args).output().unwrap()
}

/// `rat` running in the background, its stderr kept in a file so a test
/// waiting on it can say why it stopped.
pub struct Background {
    pub child: Child,
    stderr: tempfile::NamedTempFile,
}

impl Background {
    /// Fails the test, with what `rat` printed, if it has exited:
    /// whoever waits for something it should do stops waiting at once.
    pub fn assert_running(&mut self, waiting_for: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let printed = std::fs::read_to_string(self.stderr.path()).unwrap_or_default();
            panic!("rat exited ({status}) while the test waited for {waiting_for}: {printed}");
        }
    }
}

/// Starts `rat --project <project> <args>` in the background, stdout
/// discarded.
pub fn spawn_rat(project: &Path, args: &[&str]) -> Background {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let child = command(project, args)
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    Background { child, stderr }
}

/// Starts it with stdout captured.
pub fn spawn_rat_piped(project: &Path, args: &[&str]) -> Child {
    command(project, args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes a project file.
pub fn write(project: &Path, relative: &str, text: &str) {
    let path = project.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A `rat serve` in the background; killed when dropped.
pub struct Served {
    pub child: Child,
    /// `http://127.0.0.1:PORT` it listens on.
    pub url: String,
    /// What it printed to stderr after that address (read all along, so
    /// its writes never meet a closed pipe).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `rat --project <project> --config <project>/rat.yaml serve` (the
/// config listening on port 0) with `env`, and reads the address it prints.
pub fn serve(project: &Path, env: &[(&str, &str)]) -> Served {
    let config = project.join("rat.yaml");
    serve_with(
        project,
        &["--config", config.to_str().unwrap(), "serve"],
        env,
    )
}

/// Starts `rat --project <project> <args>` (a `serve`) with `env`, and
/// reads the address it prints.
pub fn serve_with(project: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
    use std::io::{BufRead, BufReader};
    let mut child = command(project, args)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    reader.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("rat-server: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line of rat serve: {line}"))
        .to_owned();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    Served { child, url, stderr }
}

impl Served {
    /// What the server has printed to stderr so far (after its address).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Served {
    /// The project's own API client for this server.
    pub fn client(&self) -> rat_server::client::Client {
        rat_server::client::Client::new(&self.url, None).unwrap()
    }
}

/// Submits one run of `pipeline` through `client`; its id.
pub async fn submit(client: &rat_server::client::Client, pipeline: &str) -> rat_core::RunId {
    use rat_server::api::{PlatformApi, SubmitRun};
    let request = SubmitRun {
        pipeline: pipeline.to_owned(),
        limits: Default::default(),
    };
    client.submit_run(&request).await.unwrap().run_id
}

/// Polls `run` through `client` until it ends; its record.
pub async fn wait_for_end(
    client: &rat_server::client::Client,
    run: &rat_core::RunId,
) -> rat_core::RunRecord {
    use rat_server::api::PlatformApi;
    let start = std::time::Instant::now();
    loop {
        let record = client.run(run).await.unwrap();
        if record.status.is_terminal() {
            return record;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{record:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Copies the files under `from` into `to`, without `.rat/` (a project's
/// state).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == ".rat" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
