//! `/settings`: which implementations this server runs, who the caller
//! is to it (roles, the namespaces it may see), and, where callers sign
//! in, the grants it may see with a dialog to share and buttons to revoke
//! (the page's script calls `/api/v1/sharing`).

use super::render::{PageResult, Shell};
use super::views::table_names;
use crate::http::Api;

/// Grants listed on the page.
const GRANTS: u32 = 200;

pub(super) async fn page(shell: Shell, Api(api): Api) -> PageResult {
    let features = api.features().await?;
    let me = api.me().await?;
    // Without authentication everyone is the one local admin: there is
    // nobody to share with.
    let sharing = shell.ui.auth.asks();
    let (grants, tables) = match sharing {
        true => (
            api.grants(GRANTS, 0).await?.items,
            table_names(api.as_ref()).await?,
        ),
        false => (Vec::new(), Vec::new()),
    };
    shell.page(
        "settings.html",
        minijinja::context! {
            title => "Settings",
            section => "settings",
            features => features,
            me => me,
            sharing => sharing,
            grants => grants,
            tables => tables,
        },
    )
}
