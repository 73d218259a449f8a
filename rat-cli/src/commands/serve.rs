//! `rat serve`: the reference HTTP server over the project.

use std::net::SocketAddr;

use rat_core::Result;

use crate::output::EXIT_OK;
use crate::workspace::Place;

pub(crate) async fn serve(place: &Place, listen: Option<SocketAddr>) -> Result<u8> {
    let project = place.project_dir()?;
    let (setup, configured) = place.load(&project)?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    rat_server::serve(setup, listen.unwrap_or(configured), shutdown).await?;
    Ok(EXIT_OK)
}
