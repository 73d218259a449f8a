//! `rat share OBJECT GRANTEE [--level read|write]`, `rat unshare ID`,
//! `rat grants [--transfer TABLE --to OWNER]`: who else may read or change
//! a table; `rat audit [filters]`: who did what.

use rat_core::Result;
use rat_server::api::{AuditQuery, NewGrant, PlatformApi, Transfer};
use serde_json::json;

use crate::output::{EXIT_OK, print_json, print_table};

pub(crate) async fn share(api: &dyn PlatformApi, grant: &NewGrant, json: bool) -> Result<u8> {
    let made = api.share(grant).await?;
    if json {
        print_json(&made);
    } else {
        println!(
            "{} may {} {} (grant {})",
            made.grantee,
            match made.level {
                rat_core::authz::Level::Read => "read",
                rat_core::authz::Level::Write => "read and change",
            },
            made.object,
            made.id
        );
    }
    Ok(EXIT_OK)
}

pub(crate) async fn unshare(api: &dyn PlatformApi, id: &str, json: bool) -> Result<u8> {
    api.unshare(id).await?;
    if json {
        print_json(&json!({"id": id, "revoked": true}));
    } else {
        println!("grant {id} revoked");
    }
    Ok(EXIT_OK)
}

pub(crate) async fn grants(api: &dyn PlatformApi, limit: u32, json: bool) -> Result<u8> {
    let page = api.grants(limit, 0).await?;
    if json {
        print_json(&page.items);
    } else if page.items.is_empty() {
        println!("No grants you may see.");
    } else {
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|g| {
                vec![
                    g.id.clone(),
                    g.object.to_string(),
                    g.grantee.to_string(),
                    g.level.as_str().to_owned(),
                    g.granted_by.clone(),
                ]
            })
            .collect();
        print_table(&["id", "object", "grantee", "level", "granted by"], &rows);
    }
    Ok(EXIT_OK)
}

pub(crate) async fn transfer(api: &dyn PlatformApi, transfer: &Transfer, json: bool) -> Result<u8> {
    let owned = api.transfer(transfer).await?;
    if json {
        print_json(&owned);
    } else {
        println!("{} now belongs to {}", owned.table, owned.owner);
    }
    Ok(EXIT_OK)
}

pub(crate) async fn audit(
    api: &dyn PlatformApi,
    query: &AuditQuery,
    limit: u32,
    json: bool,
) -> Result<u8> {
    let page = api.audit_log(query, limit, 0).await?;
    if json {
        print_json(&page.items);
    } else if page.items.is_empty() {
        println!("No audit entries match.");
    } else {
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|e| {
                vec![
                    e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    e.principal.clone(),
                    e.verb.clone(),
                    e.object.clone(),
                    format!("{} {}", e.outcome, e.status),
                ]
            })
            .collect();
        print_table(
            &["at (UTC)", "principal", "verb", "object", "outcome"],
            &rows,
        );
        if page.has_more {
            println!("(more: raise --limit or narrow the filters)");
        }
    }
    Ok(EXIT_OK)
}
