//! Deserializers for configuration fields shared by every crate's config
//! types. A value can come from YAML or from a `RAT__*` environment
//! override, which is always text, so numbers are read from either form.
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Pool {
//!     #[serde(deserialize_with = "rat_core::config::de::count")]
//!     workers: usize,
//!     #[serde(with = "rat_core::config::de::secs")]
//!     timeout: std::time::Duration,
//! }
//! let pool: Pool = serde_yaml_ng::from_str("{workers: '8', timeout: 1.5}").unwrap();
//! assert_eq!((pool.workers, pool.timeout.as_millis()), (8, 1500));
//! let zero = serde_yaml_ng::from_str::<Pool>("{workers: 0, timeout: 1}");
//! assert!(zero.err().unwrap().to_string().contains("at least 1"));
//! ```

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Form<T> {
    Number(T),
    Text(String),
}

/// A number, written as one or as text.
pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + FromStr,
    T::Err: Display,
{
    match Form::<T>::deserialize(d)? {
        Form::Number(n) => Ok(n),
        Form::Text(t) => t
            .trim()
            .parse()
            .map_err(|e| serde::de::Error::custom(format!("'{t}' is not a number: {e}"))),
    }
}

/// A positive count.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n: usize = number(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

/// An optional positive count.
pub fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    struct Count(#[serde(deserialize_with = "count")] usize);
    Ok(Option::<Count>::deserialize(d)?.map(|c| c.0))
}

/// A duration in seconds (fractions allowed).
pub mod secs {
    use super::*;

    /// Writes the seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Reads seconds, as a number or text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs: f64 = number(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// An optional duration in seconds.
pub mod optional_secs {
    use super::*;

    /// Writes the seconds, or nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    /// Reads seconds, as a number or text, or nothing.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Secs(#[serde(with = "super::secs")] Duration);
        Ok(Option::<Secs>::deserialize(d)?.map(|s| s.0))
    }
}

/// A duration in milliseconds.
pub mod millis {
    use super::*;

    /// Writes the milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads milliseconds, as a number or text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(number(d)?))
    }
}

/// A span of time written with a unit (`7d`, `72h`, `30m`, `90s`) or as a
/// number of seconds; written back in the largest whole unit.
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Keep(#[serde(with = "rat_core::config::de::span")] std::time::Duration);
/// let Keep(d) = serde_yaml_ng::from_str("7d").unwrap();
/// assert_eq!(d.as_secs(), 7 * 86_400);
/// let Keep(d) = serde_yaml_ng::from_str("90").unwrap();
/// assert_eq!(d.as_secs(), 90);
/// assert!(serde_yaml_ng::from_str::<Keep>("7 weeks").is_err());
/// ```
pub mod span {
    use super::*;

    /// Writes the span in its largest whole unit (`7d`, `36h`, `90s`).
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Reads a span with a unit, or seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Form::<f64>::deserialize(d)? {
            Form::Number(secs) => {
                Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
            }
            Form::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        }
    }

    /// Parses `7d`, `72h`, `30m`, `90s` or plain seconds.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit_secs = match unit.trim() {
            "" | "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            _ => {
                return Err(format!(
                    "'{}' is not a duration like 7d, 72h, 30m or 90s",
                    text.escape_default()
                ));
            }
        };
        let value: f64 = number.parse().map_err(|_| {
            format!(
                "'{}' is not a duration like 7d, 72h, 30m or 90s",
                text.escape_default()
            )
        })?;
        Duration::try_from_secs_f64(value * unit_secs).map_err(|e| e.to_string())
    }

    /// The span in its largest whole unit.
    pub fn format(d: Duration) -> String {
        let secs = d.as_secs();
        if d.subsec_nanos() != 0 {
            return format!("{}s", d.as_secs_f64());
        }
        match secs {
            0 => "0s".to_owned(),
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3_600 == 0 => format!("{}h", s / 3_600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }
}

/// `fields` read as a `T` over `base`: each field given replaces `base`'s,
/// the rest stay. An error names the field it is about (`keep_last: must
/// be at least 1`), found by trying each given field alone.
///
/// ```
/// use rat_core::MaintenanceSettings;
///
/// let fields: serde_yaml_ng::Mapping = serde_yaml_ng::from_str("{keep_last: 0}").unwrap();
/// let err = rat_core::config::de::over(&MaintenanceSettings::default(), &fields).unwrap_err();
/// assert_eq!(err, "keep_last: must be at least 1");
/// ```
pub fn over<T: serde::Serialize + serde::de::DeserializeOwned>(
    base: &T,
    fields: &serde_yaml_ng::Mapping,
) -> Result<T, String> {
    let merged = |fields: &serde_yaml_ng::Mapping| {
        let mut tree = match serde_yaml_ng::to_value(base) {
            Ok(serde_yaml_ng::Value::Mapping(map)) => map,
            _ => serde_yaml_ng::Mapping::new(),
        };
        for (key, value) in fields {
            tree.insert(key.clone(), value.clone());
        }
        serde_yaml_ng::from_value::<T>(serde_yaml_ng::Value::Mapping(tree))
    };
    merged(fields).map_err(|e| {
        fields
            .iter()
            .find(|(key, value)| {
                let alone = serde_yaml_ng::Mapping::from_iter([((*key).clone(), (*value).clone())]);
                merged(&alone).is_err()
            })
            .and_then(|(key, _)| key.as_str())
            .map_or_else(|| e.to_string(), |key| format!("{key}: {e}"))
    })
}
