//! A real OpenID Provider for sign-in tests: node-oidc-provider
//! (tests/oidc/issuer.mjs, installed by scripts/npm-ci.sh), in its own
//! process on a free loopback port, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct OidcIssuer {
    child: Child,
    /// The issuer URL (`iss`), `http://127.0.0.1:PORT`.
    pub url: String,
}

impl OidcIssuer {
    /// Starts the provider; returns once it listens (it prints its URL).
    pub fn start() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID Provider is not installed: scripts/npm-ci.sh rat-server/tests/oidc"
        );
        let mut child = Command::new("node")
            .arg("issuer.mjs")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node (Node.js 20+)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        // Ends with the first line, or at EOF if the provider died.
        stdout.read_line(&mut line).unwrap();
        // The rest is drained: a closed pipe would kill the provider.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the OpenID Provider did not start ({e}): {line:?}"));
        let url = started["issuer"].as_str().unwrap().to_owned();
        Self { child, url }
    }

    /// Registers rat's callback as the `rat-ide` client's redirect URI.
    pub async fn register(&self, redirect_uri: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/test/client", self.url))
            .json(&serde_json::json!({ "redirect_uri": redirect_uri }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
