//! Running the `rat` binary from tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

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

/// Starts `rat --project <project> <args>` in the background, output discarded.
pub fn spawn_rat(project: &Path, args: &[&str]) -> Child {
    command(project, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
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
