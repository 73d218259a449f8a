//! A webhook receiver on loopback for notification tests: it records
//! every post and answers 500 to the first few, and the check of a
//! delivery's signature (HMAC-SHA256, computed here independently).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

/// What a receiver got: the headers and the body.
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A receiver on loopback answering 500 to its first `failures` posts,
/// then 200; every post is sent down the channel.
pub async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, received) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (sender, seen) = (sender.clone(), seen.clone());
            async move {
                let _ = sender.send(Received {
                    headers,
                    body: body.to_vec(),
                });
                match seen.fetch_add(1, Ordering::SeqCst) < failures {
                    true => StatusCode::INTERNAL_SERVER_ERROR,
                    false => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

pub async fn next(received: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("a delivery within 30 s")
        .unwrap()
}

pub fn signed(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The event a delivery carries, after checking its signature and headers.
pub fn verified(got: &Received, secret: &str) -> Value {
    let header = |name: &str| got.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("x-rat-signature-256"), signed(secret, &got.body));
    assert_ne!(
        header("x-rat-signature-256"),
        signed("another secret", &got.body)
    );
    let event: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(header("x-rat-event"), event["kind"].as_str().unwrap());
    assert_eq!(header("x-rat-delivery").len(), 32);
    event
}
