//! What can go wrong in a client command, how it is shown, and the exit code scripts rely on:
//! 0 ok, 1 an API error (its `detail` printed) or a failed execution, 2 a usage error,
//! 3 not logged in (no credentials, or the server refused them).

use std::fmt;

/// A client command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or an input file is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The API answered with an error (exit 1, or 3 for 401).
    #[error("{0}")]
    Api(ApiFailure),
    /// No usable credentials (exit 3).
    #[error("{0}")]
    NotLoggedIn(String),
    /// The platform could not be reached, or answered something that is not its API (exit 1).
    #[error("{0}")]
    Transport(String),
    /// The request went through but what it did failed, e.g. an execution (exit 1).
    #[error("{0}")]
    Failed(String),
    /// A local file could not be read or written (exit 1).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// An error answer of the API (SPEC §2 body).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiFailure {
    pub status: u16,
    pub code: Option<String>,
    pub detail: String,
    pub request_id: Option<String>,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::NotLoggedIn(_) => 3,
            Self::Api(failure) if failure.status == 401 => 3,
            Self::Api(_) | Self::Transport(_) | Self::Failed(_) | Self::Io { .. } => 1,
        }
    }

    /// A stable machine code, for `-o json` error output.
    pub fn code(&self) -> &str {
        match self {
            Self::Usage(_) => "usage",
            Self::NotLoggedIn(_) => "not_logged_in",
            Self::Api(failure) => failure.code.as_deref().unwrap_or("api_error"),
            Self::Transport(_) => "unreachable",
            Self::Failed(_) => "failed",
            Self::Io { .. } => "io",
        }
    }

    /// The failure as one JSON object (for `-o json`/`-o yaml` on stderr).
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "code": self.code(),
            "detail": self.to_string(),
            "exit_code": self.exit_code(),
        });
        if let Self::Api(failure) = self {
            body["status"] = failure.status.into();
            body["request_id"] = failure.request_id.clone().into();
        }
        serde_json::json!({ "error": body })
    }

    /// The failure as a line for people, with the HTTP status and request id when there are
    /// some (the request id is what an operator searches the logs for).
    pub fn human(&self) -> String {
        match self {
            Self::Api(failure) => {
                let mut line = format!("{} (HTTP {}", failure.detail, failure.status);
                if let Some(code) = &failure.code {
                    line.push_str(&format!(", {code}"));
                }
                if let Some(id) = &failure.request_id {
                    line.push_str(&format!(", request {id}"));
                }
                line.push(')');
                if failure.status == 401 {
                    line.push_str("\nhint: log in again with `temponest login`");
                }
                line
            }
            other => other.to_string(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
