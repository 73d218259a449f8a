//! `/settings`: which implementations this server runs, and who the
//! caller is to it (roles, the namespaces it may see).

use super::render::{PageResult, Shell};
use crate::http::Api;

pub(super) async fn page(shell: Shell, Api(api): Api) -> PageResult {
    let features = api.features().await?;
    let me = api.me().await?;
    shell.page(
        "settings.html",
        minijinja::context! {
            title => "Settings",
            section => "settings",
            features => features,
            me => me,
        },
    )
}
