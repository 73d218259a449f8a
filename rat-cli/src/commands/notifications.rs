//! `rat notifications [--namespace NS] [add URL --event E | rm ID |
//! deliveries ID]`: a namespace's outgoing webhooks (delivered while
//! `rat serve` runs over the project).

use rat_core::Result;
use rat_server::api::{NewHook, PlatformApi};
use serde_json::json;

use crate::cli::NotificationAction;
use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn notifications(
    api: &dyn PlatformApi,
    namespace: &str,
    action: Option<NotificationAction>,
    json: bool,
) -> Result<u8> {
    match action {
        None => {
            let hooks = api.notification_hooks(namespace).await?;
            if json {
                print_json(&hooks);
            } else if hooks.is_empty() {
                println!("No notification hooks in {namespace} yet.");
            } else {
                let rows: Vec<Vec<String>> = hooks
                    .iter()
                    .map(|h| {
                        let events: Vec<&str> = h.events.iter().map(|e| e.as_str()).collect();
                        vec![
                            h.id.clone(),
                            h.url.clone(),
                            events.join(","),
                            h.description.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["id", "url", "events", "description"], &rows);
            }
        }
        Some(NotificationAction::Add {
            url,
            events,
            description,
        }) => {
            let hook = NewHook {
                url,
                events,
                description,
            };
            let made = api.create_notification_hook(namespace, &hook).await?;
            if json {
                print_json(&made);
            } else {
                println!("hook {} added to {namespace}", made.id);
                if let Some(secret) = &made.secret {
                    println!(
                        "bodies are signed: X-Rat-Signature-256: sha256=HMAC-SHA256(body) with the secret\n  {}\n(shown only now)",
                        secret.0
                    );
                }
            }
        }
        Some(NotificationAction::Rm { id }) => {
            api.delete_notification_hook(namespace, &id).await?;
            if json {
                print_json(&json!({"id": id, "deleted": true}));
            } else {
                println!("hook {id} deleted");
            }
        }
        Some(NotificationAction::Deliveries { id, limit }) => {
            let page = api.hook_deliveries(namespace, &id, limit, 0).await?;
            if json {
                print_json(&page.items);
            } else if page.items.is_empty() {
                println!("hook {id} has delivered nothing yet.");
            } else {
                let rows: Vec<Vec<String>> = page
                    .items
                    .iter()
                    .map(|d| {
                        vec![
                            d.event.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            d.event.kind.to_string(),
                            d.event.pipeline.to_string(),
                            d.state.as_str().to_owned(),
                            d.attempts.to_string(),
                            d.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "event (UTC)",
                        "kind",
                        "pipeline",
                        "state",
                        "attempts",
                        "last error",
                    ],
                    &rows,
                );
            }
        }
    }
    Ok(EXIT_OK)
}
