//! `rat schedules`: list, add and delete schedules, show their firings (a
//! local project's fire while `rat serve` runs over it).

use rat_core::{Result, Trigger};
use rat_server::api::{PlatformApi, ScheduleRequest};
use serde_json::json;

use crate::cli::ScheduleAction;
use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn schedules(
    api: &dyn PlatformApi,
    action: Option<ScheduleAction>,
    json: bool,
) -> Result<u8> {
    match action {
        None => {
            let schedules = api.schedules().await?;
            if json {
                print_json(&schedules);
            } else if schedules.is_empty() {
                println!("No schedules yet.");
            } else {
                let rows: Vec<Vec<String>> = schedules
                    .iter()
                    .map(|s| {
                        let when = match &s.trigger {
                            Trigger::Cron { expression } => format!("cron {expression}"),
                            Trigger::AfterUpstream { upstream } => format!("after {upstream}"),
                            Trigger::Landing { zone, pattern } => match pattern {
                                Some(p) => format!("landing {zone} ({p})"),
                                None => format!("landing {zone}"),
                            },
                            Trigger::Webhook { .. } => "webhook".to_owned(),
                        };
                        let next = s
                            .next_fire_at
                            .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string());
                        vec![
                            s.id.clone(),
                            s.pipeline.to_string(),
                            when,
                            if s.enabled { "yes" } else { "no" }.into(),
                            next,
                        ]
                    })
                    .collect();
                print_table(
                    &["id", "pipeline", "trigger", "enabled", "next (UTC)"],
                    &rows,
                );
            }
        }
        Some(ScheduleAction::Add {
            pipeline,
            cron,
            after,
            landing,
            pattern,
            webhook,
        }) => {
            let request = ScheduleRequest {
                pipeline,
                cron,
                after,
                landing,
                pattern,
                webhook,
                enabled: true,
            };
            let created = api.create_schedule(&request).await?;
            if json {
                print_json(&created);
            } else {
                println!("schedule {} added for {}", created.id, created.pipeline);
                if let Some(token) = &created.webhook_token {
                    println!(
                        "call it with: POST /api/v1/webhooks/{} and the header\n  Authorization: Bearer {}\n(the token is shown only now)",
                        created.id, token.0
                    );
                }
            }
        }
        Some(ScheduleAction::Firings { id, limit }) => {
            let page = api.schedule_firings(&id, limit, 0).await?;
            if json {
                print_json(&page.items);
            } else if page.items.is_empty() {
                println!("schedule {id} has not fired yet.");
            } else {
                let rows: Vec<Vec<String>> = page
                    .items
                    .iter()
                    .map(|f| {
                        vec![
                            f.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            f.kind.to_string(),
                            f.run_id.as_ref().map_or("-".into(), ToString::to_string),
                            f.skipped
                                .as_ref()
                                .map_or_else(String::new, |why| format!("skipped: {why}")),
                            f.detail.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["fired (UTC)", "trigger", "run", "skipped", "what"], &rows);
            }
        }
        Some(ScheduleAction::Delete { id }) => {
            api.delete_schedule(&id).await?;
            if json {
                print_json(&json!({"id": id, "deleted": true}));
            } else {
                println!("schedule {id} deleted");
            }
        }
    }
    Ok(EXIT_OK)
}
