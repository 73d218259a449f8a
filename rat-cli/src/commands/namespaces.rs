//! `rat namespaces [create NAME [-d TEXT] | describe NAME TEXT | members
//! NAME [--add M | --remove M] | rm NAME [--force]]`: the namespaces of the
//! project or server and who belongs to them; `rat whoami`: who you are to
//! them.

use rat_core::Result;
use rat_server::api::{NewNamespace, PlatformApi, UpdateNamespace};

use crate::cli::NamespaceAction;
use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn namespaces(
    api: &dyn PlatformApi,
    action: Option<NamespaceAction>,
    json: bool,
) -> Result<u8> {
    match action {
        None => {
            let namespaces = api.namespaces().await?;
            if json {
                print_json(&namespaces);
            } else {
                let rows: Vec<Vec<String>> = namespaces
                    .iter()
                    .map(|n| vec![n.name.clone(), n.description.clone().unwrap_or_default()])
                    .collect();
                print_table(&["namespace", "description"], &rows);
            }
        }
        Some(NamespaceAction::Create { name, description }) => {
            let made = api
                .create_namespace(&NewNamespace { name, description })
                .await?;
            if json {
                print_json(&made);
            } else {
                println!("namespace {} created", made.name);
            }
        }
        Some(NamespaceAction::Describe { name, description }) => {
            let update = UpdateNamespace {
                description: Some(Some(description)),
            };
            let changed = api.update_namespace(&name, &update).await?;
            if json {
                print_json(&changed);
            } else {
                match &changed.description {
                    Some(text) => println!("{}: {text}", changed.name),
                    None => println!("{}: no description", changed.name),
                }
            }
        }
        Some(NamespaceAction::Members { name, add, remove }) => {
            let members = match (add, remove) {
                (Some(member), _) => api.add_namespace_member(&name, &member).await?,
                (_, Some(member)) => api.remove_namespace_member(&name, &member).await?,
                (None, None) => api.namespace_members(&name).await?,
            };
            if json {
                print_json(&members);
            } else if members.members.is_empty() {
                println!("{}: no members (admins and owners only)", members.namespace);
            } else {
                let names: Vec<String> = members.members.iter().map(|m| m.to_string()).collect();
                println!("{}: {}", members.namespace, names.join(", "));
            }
        }
        Some(NamespaceAction::Rm { name, force }) => {
            let removed = api.delete_namespace(&name, force).await?;
            if json {
                print_json(&removed);
            } else {
                println!(
                    "namespace {} deleted: {} pipeline(s), {} table(s), {} landing zone(s), \
                     {} schedule(s), {} notification hook(s), {} file(s)",
                    removed.name,
                    removed.pipelines,
                    removed.tables,
                    removed.landing_zones,
                    removed.schedules,
                    removed.notification_hooks,
                    removed.files
                );
            }
        }
    }
    Ok(EXIT_OK)
}

pub(crate) async fn whoami(api: &dyn PlatformApi, json: bool) -> Result<u8> {
    let me = api.me().await?;
    if json {
        print_json(&me);
        return Ok(EXIT_OK);
    }
    let who = match (&me.principal.name, &me.principal.email) {
        (Some(name), Some(email)) => format!("{} ({name} <{email}>)", me.principal.id),
        (Some(name), None) => format!("{} ({name})", me.principal.id),
        (None, Some(email)) => format!("{} <{email}>", me.principal.id),
        (None, None) => me.principal.id.clone(),
    };
    println!("{who}");
    let roles: Vec<&str> = me.principal.roles.iter().map(String::as_str).collect();
    println!(
        "roles: {}",
        if roles.is_empty() {
            "none".to_owned()
        } else {
            roles.join(", ")
        }
    );
    println!("namespaces: {}", me.namespaces.join(", "));
    Ok(EXIT_OK)
}
