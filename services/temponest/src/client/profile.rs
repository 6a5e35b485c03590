//! Named profiles and their credentials, kept in one file only the user can read:
//! `$TEMPONEST_CONFIG_DIR`, else `$XDG_CONFIG_HOME/temponest`, else `~/.config/temponest`,
//! file `credentials.json` (mode 0600, directory 0700). It is replaced atomically (written to
//! a new 0600 file, then renamed), so a crash mid-write never leaves half a file and the
//! secrets are never readable by others, even for a moment.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temponest_platform::Secret;

use super::error::CliError;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// Everything the client keeps between runs.
#[derive(Default, Serialize, Deserialize)]
pub struct Store {
    /// The profile `--profile` falls back to (set by `temponest profiles use`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One platform and how to authenticate to it (`Debug` shows whether each credential is set,
/// never its value).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who logged in (shown by `profiles list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token expires (refreshed a little before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
}

impl Profile {
    /// Whether this profile holds any credentials.
    pub fn has_credentials(&self) -> bool {
        self.api_key.is_some() || self.access_token.is_some() || self.refresh_token.is_some()
    }

    /// Forgets the credentials, keeping the URL.
    pub fn clear_credentials(&mut self) {
        self.email = None;
        self.access_token = None;
        self.refresh_token = None;
        self.expires_at = None;
        self.api_key = None;
    }
}

/// The directory the client keeps its file in.
pub fn config_dir() -> Result<PathBuf, CliError> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = from("TEMPONEST_CONFIG_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = from("XDG_CONFIG_HOME") {
        return Ok(dir.join("temponest"));
    }
    from("HOME")
        .map(|home| home.join(".config").join("temponest"))
        .ok_or_else(|| {
            CliError::Usage(
                "cannot tell where to keep credentials: set HOME, XDG_CONFIG_HOME or TEMPONEST_CONFIG_DIR"
                    .to_owned(),
            )
        })
}

/// The credentials file.
pub fn credentials_path() -> Result<PathBuf, CliError> {
    Ok(config_dir()?.join("credentials.json"))
}

impl Store {
    /// The stored profiles (none yet if the file does not exist).
    pub fn load() -> Result<Self, CliError> {
        let path = credentials_path()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Usage(format!(
                    "{} is not a valid credentials file ({e}); fix or delete it",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CliError::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Writes the file atomically with owner-only permissions.
    pub fn save(&self) -> Result<(), CliError> {
        let path = credentials_path()?;
        let dir = path.parent().expect("the file is in a directory");
        create_private_dir(dir)
            .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
        let json = serde_json::to_vec_pretty(self).expect("profiles serialise");
        let tmp = dir.join(format!(".credentials.json.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&tmp);
            let mut file = private_file(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::io(format!("cannot write {}", path.display()), e)
        })
    }

    /// The profile named by `--profile`/`TEMPONEST_PROFILE`, else the default one.
    pub fn resolve_name(&self, requested: Option<&str>) -> String {
        requested
            .map(str::to_owned)
            .or_else(|| self.default_profile.clone())
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_which_credentials_a_profile_holds_but_never_their_values() {
        let profile = Profile {
            url: Some("http://127.0.0.1:9000".into()),
            access_token: Some("eyJ-access".into()),
            refresh_token: Some("rt_refresh".into()),
            api_key: None,
            ..Profile::default()
        };
        let shown = format!("{profile:?}");
        assert!(
            !shown.contains("eyJ-access") && !shown.contains("rt_refresh"),
            "{shown}"
        );
        assert!(shown.contains("access_token: Some(<redacted>)"), "{shown}");
        assert!(shown.contains("api_key: None"), "{shown}");
        let stored = serde_json::to_value(&profile).unwrap();
        assert_eq!(
            stored["refresh_token"], "rt_refresh",
            "the file keeps the value"
        );
    }
}
