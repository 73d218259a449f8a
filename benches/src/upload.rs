//! Landing uploads stream: a large file sent to a server (a child process,
//! so its memory is the server's alone) as a multipart body, against a
//! plain `cp` of the same file into the same storage folder (baseline,
//! interleaved). Reported: the rates, their ratio and the growth of the
//! server's peak resident memory (`VmHWM`) over the uploads; target:
//! growth < 64 MiB for a 1 GiB file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use serde_json::json;

use crate::report::{median, table};
use crate::setup::BenchProject;

/// Most the server's peak memory may grow over the uploads.
const MAX_GROWTH: u64 = 64 * 1024 * 1024;

/// The server half: serves `dir` on a loopback port (printed on stdout)
/// with no upload limit, until its stdin closes.
pub(crate) async fn serve(dir: &Path) -> Result<()> {
    let mut setup = rat_server::ServerSetup::embedded(dir);
    setup.scheduler = None;
    setup.landing.max_file_bytes = u64::MAX;
    let server = setup.open().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    // The parent holds our stdin: when it ends, so do we.
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    Ok(())
}

/// Peak resident memory of process `pid`, in bytes.
fn peak_memory(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?;
    Ok(kib * 1024)
}

/// A CSV file of about `bytes` bytes.
fn write_source(path: &Path, bytes: u64) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "id,name,amount")?;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < bytes {
        let line = format!("{i},customer_{i:08},{}.{:02}\n", i % 10_000, i % 100);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    out.flush()?;
    Ok(())
}

struct Child {
    process: std::process::Child,
    base: String,
}

impl Child {
    fn start(dir: &Path) -> Result<Self> {
        let mut process = Command::new(std::env::current_exe()?)
            .arg("upload-server")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = process.stdout.take().context("stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let Some(address) = line.trim().strip_prefix("listening ") else {
            bail!("the server did not start: {line}");
        };
        Ok(Self {
            base: format!("http://{address}/api/v1"),
            process,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        drop(self.process.stdin.take());
        let _ = self.process.wait();
    }
}

/// Streams `source` to the zone as `name`; the time it took.
async fn upload(http: &reqwest::Client, base: &str, source: &Path, name: &str) -> Result<Duration> {
    let file = tokio::fs::File::open(source).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed();
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
        .file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("file", part);
    let clock = Instant::now();
    let response = http
        .post(format!("{base}/landing-zones/default/big/files"))
        .multipart(form)
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    ensure!(status.as_u16() == 201, "upload answered {status}: {body}");
    Ok(clock.elapsed())
}

fn copy(source: &Path, to: &PathBuf) -> Result<Duration> {
    let clock = Instant::now();
    let status = Command::new("cp").arg(source).arg(to).status()?;
    ensure!(status.success(), "cp failed");
    Ok(clock.elapsed())
}

pub(crate) async fn run(size_mib: usize, repeat: usize) -> Result<()> {
    let project = BenchProject::new()?;
    let bytes = size_mib as u64 * 1024 * 1024;
    let source = project.path().join("source.csv");
    write_source(&source, bytes)?;
    let actual = std::fs::metadata(&source)?.len();
    let server = Child::start(project.path())?;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/landing-zones", server.base))
        .json(&json!({"name": "big", "expected_format": "csv"}))
        .send()
        .await?;
    ensure!(
        created.status().as_u16() == 201,
        "zone: {}",
        created.text().await?
    );
    let small = project.path().join("small.csv");
    std::fs::write(&small, "id\n1\n")?;
    upload(&http, &server.base, &small, "warmup.csv").await?;
    let before = peak_memory(server.process.id())?;

    let copy_dir = project.path().join("copies");
    std::fs::create_dir_all(&copy_dir)?;
    let (mut uploads, mut copies) = (Vec::new(), Vec::new());
    for i in 0..repeat.max(1) {
        copies.push(copy(&source, &copy_dir.join(format!("copy_{i}.csv")))?);
        uploads.push(upload(&http, &server.base, &source, &format!("upload_{i}.csv")).await?);
    }
    let after = peak_memory(server.process.id())?;
    let stored = std::fs::metadata(project.path().join("landing/big/upload_0.csv"))?.len();
    ensure!(stored == actual, "stored {stored} bytes of {actual}");

    let rate = |d: Duration| actual as f64 / (1024.0 * 1024.0) / d.as_secs_f64();
    let (upload_p50, copy_p50) = (median(&uploads), median(&copies));
    let growth = after.saturating_sub(before);
    println!(
        "upload: {:.0} MiB file, {} uploads interleaved with cp",
        actual as f64 / (1024.0 * 1024.0),
        uploads.len()
    );
    table(
        &["path", "p50 time", "rate MiB/s", "vs cp"],
        &[
            vec![
                "cp to the landing folder (baseline)".into(),
                format!("{:.2} s", copy_p50.as_secs_f64()),
                format!("{:.0}", rate(copy_p50)),
                "1.00x".into(),
            ],
            vec![
                "HTTP multipart upload".into(),
                format!("{:.2} s", upload_p50.as_secs_f64()),
                format!("{:.0}", rate(upload_p50)),
                format!("{:.2}x", upload_p50.as_secs_f64() / copy_p50.as_secs_f64()),
            ],
        ],
    );
    println!(
        "server peak memory: {:.1} MiB before, {:.1} MiB after: +{:.1} MiB (target < {} MiB)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        MAX_GROWTH / 1048576
    );
    ensure!(
        growth < MAX_GROWTH,
        "the server's memory grew by {growth} bytes over the uploads"
    );
    Ok(())
}
