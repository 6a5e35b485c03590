//! A private PostgreSQL cluster for `temponest serve` on a machine where none is running.
//!
//! When the database is not configured (no `DATABASE_URL`: the default
//! `postgres://postgres@127.0.0.1:5432/temponest`) and nothing answers on 127.0.0.1:5432, the
//! all-in-one server initialises a cluster of its own under its data directory
//! (`TEMPONEST_DATA_DIR`, default `$XDG_DATA_HOME/temponest` or `~/.local/share/temponest`;
//! `/var/lib/temponest` for root),
//! starts it on a free loopback port with its socket in that directory, uses it, and stops it
//! when it stops. The server binaries are looked up on `PATH`, then in the usual install
//! locations (`/usr/lib/postgresql/<version>/bin`, newest first, Homebrew, Postgres.app).
//!
//! `TEMPONEST_LOCAL_POSTGRES`: `auto` (the default, as above), `off` (never: the server fails
//! if the database does not answer), or `on` (always, even when a server answers on 5432).
//!
//! PostgreSQL refuses to run as root: a root process runs `initdb` and `pg_ctl` as the
//! `postgres` system user (which Debian's and Red Hat's packages create) and gives it the
//! cluster directory.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use temponest_platform::PlatformConfig;

/// The database the private cluster serves.
const DATABASE: &str = "temponest";

/// How to install PostgreSQL, for the message when none is found.
const INSTALL_HINT: &str = "install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; \
Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@16`) or set \
DATABASE_URL to a server you have";

/// When to start a private cluster (`TEMPONEST_LOCAL_POSTGRES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Auto,
    Off,
    On,
}

impl Mode {
    /// From `TEMPONEST_LOCAL_POSTGRES` (unset: auto).
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("TEMPONEST_LOCAL_POSTGRES").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Ok(Self::Auto),
            Ok("off" | "false" | "0") => Ok(Self::Off),
            Ok("on" | "true" | "1") => Ok(Self::On),
            Ok(other) => bail!("TEMPONEST_LOCAL_POSTGRES must be auto, on or off, not {other:?}"),
        }
    }
}

/// A running private cluster; stopped by [`LocalPostgres::stop`] or on drop.
pub struct LocalPostgres {
    bin: PathBuf,
    dir: PathBuf,
    owner: Option<Owner>,
    stopped: bool,
}

/// The system user the cluster runs as when this process is root.
#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

impl LocalPostgres {
    /// Starts the private cluster when `mode` and the configuration call for one, and points
    /// `platform` at it. `None`: the configured database is used as it is.
    pub fn start_if_needed(
        platform: &mut PlatformConfig,
        mode: Mode,
    ) -> anyhow::Result<Option<Self>> {
        let configured = platform.database_url.expose() != temponest_db::DEFAULT_DATABASE_URL;
        let wanted = match mode {
            Mode::Off => false,
            Mode::On => true,
            Mode::Auto => !configured && !answers(([127, 0, 0, 1], 5432).into()),
        };
        if !wanted {
            return Ok(None);
        }
        let bin = server_binaries().with_context(|| {
            format!("no PostgreSQL answers on 127.0.0.1:5432 and none is installed: {INSTALL_HINT}")
        })?;
        let owner = owner()?;
        let dir = data_dir(owner.is_some())?.join("postgres");
        let cluster = Self {
            bin,
            owner,
            dir,
            stopped: false,
        };
        let port = cluster.start()?;
        platform.database_url = format!("postgres://postgres@127.0.0.1:{port}/{DATABASE}").into();
        tracing::info!(
            dir = %cluster.dir.display(),
            port,
            "started a private PostgreSQL (set DATABASE_URL to use another, \
             TEMPONEST_LOCAL_POSTGRES=off to never start one)"
        );
        Ok(Some(cluster))
    }

    /// Initialises the cluster if it is new and starts it (or finds it running); its port.
    fn start(&self) -> anyhow::Result<u16> {
        if !self.dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
            self.give_to_owner(&self.dir)?;
            self.run(
                "initdb",
                &[
                    "-D",
                    path_str(&self.dir)?,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
            )?;
        }
        if let Some(port) = self.running_port() {
            return Ok(port);
        }
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {}",
            path_str(&self.dir)?
        );
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.dir)?,
                "-l",
                path_str(&log)?,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .with_context(|| format!("see {}", log.display()))?;
        Ok(port)
    }

    /// The port of a cluster already running in the directory (a server left by a run that
    /// was killed), from its `postmaster.pid`.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .args(["-D", path_str(&self.dir).ok()?, "status"])
            .output()
            .ok()?;
        if !status.status.success() {
            return None;
        }
        let pid_file = std::fs::read_to_string(self.dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// Stops the cluster (fast shutdown: open sessions are ended, nothing is lost).
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let Ok(dir) = path_str(&self.dir) else { return };
        match self.run("pg_ctl", &["-D", dir, "-m", "fast", "-w", "stop"]) {
            Ok(()) => tracing::info!("stopped the private PostgreSQL"),
            Err(error) => tracing::warn!(%error, "could not stop the private PostgreSQL"),
        }
    }

    /// Runs one of the server binaries (as the cluster's owner), failing with its output.
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = self
            .command(program)
            .args(args)
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        // The child's working directory must be readable by the owner it runs as.
        command.current_dir(&self.dir);
        if let Some(owner) = self.owner {
            use std::os::unix::process::CommandExt;
            command.uid(owner.uid).gid(owner.gid);
        }
        command
    }

    /// Hands `path` (and the data directory above it) to the owner when running as root.
    fn give_to_owner(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(owner) = self.owner {
            for dir in [path, path.parent().unwrap_or(path)] {
                std::os::unix::fs::chown(dir, Some(owner.uid), Some(owner.gid))
                    .with_context(|| format!("cannot give {} to postgres", dir.display()))?;
            }
        }
        Ok(())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Whether something accepts TCP connections at `addr`.
fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// The directory holding `initdb` and `pg_ctl`.
fn server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let known = [
        "/usr/pgsql/bin",
        "/usr/local/pgsql/bin",
        "/opt/homebrew/bin",
        "/usr/local/bin",
        "/Applications/Postgres.app/Contents/Versions/latest/bin",
    ];
    on_path
        .into_iter()
        .chain(versioned.into_iter().map(|(_, dir)| dir))
        .chain(known.iter().map(PathBuf::from))
        .find(|dir| has_both(dir))
}

/// `TEMPONEST_DATA_DIR`, else `/var/lib/temponest` for root (the `postgres` user cannot enter
/// root's home), else `$XDG_DATA_HOME/temponest`, else `~/.local/share/temponest`.
fn data_dir(root: bool) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TEMPONEST_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if root {
        return Ok(PathBuf::from("/var/lib/temponest"));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("temponest"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("set TEMPONEST_DATA_DIR (no HOME to put the private PostgreSQL under)")?;
    Ok(PathBuf::from(home).join(".local/share/temponest"))
}

/// The `postgres` system user when this process runs as root (PostgreSQL will not).
fn owner() -> anyhow::Result<Option<Owner>> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let is_root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !is_root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let owner = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3).then(|| {
            Some(Owner {
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
            })
        })?
    });
    match owner {
        Some(owner) => Ok(Some(owner)),
        None => bail!(
            "running as root, and PostgreSQL will not run as root: create a `postgres` user, run \
             as another user, or set DATABASE_URL"
        ),
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("no free port")?;
    Ok(listener.local_addr()?.port())
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}
