//! Layered configuration: built-in defaults, then an optional TOML file named by
//! `TEMPONEST_CONFIG`, then environment variables (standard names such as `DATABASE_URL`
//! and `REDIS_URL` as they are, everything else with the `TEMPONEST_` prefix, lower-cased;
//! `__` separates nested sections, e.g. `TEMPONEST_SERVER__REQUEST_TIMEOUT_SECS=10`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Variables read without a prefix because they are standard names.
const STANDARD_VARS: &[&str] = &["DATABASE_URL", "REDIS_URL"];

/// Loads a configuration struct. Errors name the offending key so start-up fails clearly.
pub fn load<T>(defaults: T) -> Result<T, Box<figment::Error>>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Ok(path) = std::env::var("TEMPONEST_CONFIG") {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(Env::raw().only(STANDARD_VARS))
        .merge(Env::prefixed("TEMPONEST_").split("__"))
        .extract()
        .map_err(Box::new)
}
