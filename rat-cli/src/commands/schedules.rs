//! `rat schedules`: list, add and delete schedules (a local project's fire
//! while `rat serve` runs over it).

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
        }) => {
            let request = ScheduleRequest {
                pipeline,
                cron,
                after,
                enabled: true,
            };
            let created = api.create_schedule(&request).await?;
            if json {
                print_json(&created);
            } else {
                println!("schedule {} added for {}", created.id, created.pipeline);
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
