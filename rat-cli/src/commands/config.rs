//! `rat config`: the lakehouse config in effect, after `RAT__*` overrides.

use rat_core::Result;

use crate::workspace::Place;

/// Prints the config as YAML (or JSON): secrets show as the `{env: ...}` /
/// `{file: ...}` references they are.
pub(crate) fn config(place: &Place, json: bool) -> Result<u8> {
    let project = std::path::absolute(&place.project)?;
    let config = place.lakehouse(&project)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&config)
                .map_err(|e| rat_core::Error::internal(e.to_string()))?
        );
    } else {
        print!("{}", config.to_yaml());
    }
    Ok(0)
}
