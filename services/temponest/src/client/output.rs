//! How results are shown: `-o table` (default; readable tables sized to the terminal, times
//! humanised and in the local zone), `-o json` and `-o yaml` (the API's objects exactly as
//! it sent them, for scripts). Colours only on a terminal and never with `NO_COLOR`.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Local, Utc};
use comfy_table::{ContentArrangement, Table};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::CliError;

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables and readable text.
    Table,
    /// The API's JSON, unchanged.
    Json,
    /// The API's objects as YAML.
    Yaml,
}

/// A row type shown as a table: column headers and one row of cells per item.
pub trait Tabular {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

/// Where and how results are written.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    /// Stdout is a terminal (size tables to it).
    pub tty: bool,
    /// Colour stderr messages.
    pub color: bool,
}

impl Output {
    pub fn new(format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            format,
            tty: std::io::stdout().is_terminal(),
            color: !no_color && std::io::stderr().is_terminal(),
        }
    }

    pub fn machine(&self) -> bool {
        self.format != Format::Table
    }

    /// Prints a value in the machine formats; false in table mode (the caller renders).
    pub fn raw(&self, value: &Value) -> Result<bool, CliError> {
        let text = match self.format {
            Format::Table => return Ok(false),
            Format::Json => serde_json::to_string_pretty(value).expect("JSON serialises"),
            Format::Yaml => serde_yaml_ng::to_string(value)
                .map_err(|e| CliError::Failed(format!("cannot render YAML: {e}")))?,
        };
        outln!("{}", text.trim_end());
        Ok(true)
    }

    /// A list: the API's array in the machine formats, else a table of `T` rows.
    pub fn list<T: Tabular + DeserializeOwned>(
        &self,
        value: &Value,
        total: Option<u64>,
    ) -> Result<(), CliError> {
        if self.raw(value)? {
            return Ok(());
        }
        let items: Vec<T> = parse(value)?;
        if items.is_empty() {
            eprintln!("(none)");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = items.iter().map(Tabular::cells).collect();
        self.table(T::HEADERS, rows);
        if let Some(total) = total.filter(|t| *t > items.len() as u64) {
            eprintln!(
                "showing {} of {total}; use --skip and --limit for more",
                items.len()
            );
        }
        Ok(())
    }

    /// One object: the API's object in the machine formats, else field/value lines.
    pub fn object(&self, value: &Value) -> Result<(), CliError> {
        if self.raw(value)? {
            return Ok(());
        }
        let Value::Object(fields) = value else {
            outln!("{}", scalar(value));
            return Ok(());
        };
        // Identity first, then the fields in name order.
        let first = ["id", "name"];
        let rows = first
            .iter()
            .filter_map(|key| fields.get_key_value(*key))
            .chain(
                fields
                    .iter()
                    .filter(|(key, _)| !first.contains(&key.as_str())),
            )
            .map(|(key, value)| vec![key.clone(), describe(key, value)])
            .collect();
        self.table(&["FIELD", "VALUE"], rows);
        Ok(())
    }

    /// A table with `headers`, sized to the terminal when there is one.
    pub fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) {
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header(headers.to_vec());
        if self.tty
            && let Some((terminal_size::Width(width), _)) = terminal_size::terminal_size()
        {
            table.set_width(width);
            table.set_content_arrangement(ContentArrangement::Dynamic);
        }
        for row in rows {
            table.add_row(row);
        }
        let text = table.to_string();
        // Every line starts with the first cell's padding.
        for line in text.lines() {
            outln!("{}", line.strip_prefix(' ').unwrap_or(line).trim_end());
        }
    }

    /// A note for people on stderr (never mixed into results).
    pub fn note(&self, text: &str) {
        if !self.machine() {
            eprintln!("{text}");
        }
    }

    /// `text` in green (ok) or red (not) when colours are on.
    pub fn paint(&self, text: &str, ok: bool) -> String {
        if self.color {
            let code = if ok { 32 } else { 31 };
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `value` as `T` (a platform type), or a clear error when the server sent something else.
pub fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, CliError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        CliError::Transport(format!(
            "the server's answer does not have the expected shape ({e}); is the client older than the platform?"
        ))
    })
}

/// A field's value for people: times in the local zone with how long ago, lists joined.
fn describe(key: &str, value: &Value) -> String {
    match value {
        Value::String(s)
            if key.ends_with("_at") || key.ends_with("_run") || key.ends_with("_time") =>
        {
            s.parse::<DateTime<Utc>>().map_or_else(|_| s.clone(), when)
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.iter().map(scalar).collect::<Vec<_>>().join(", ")
            }
        }
        Value::Object(_) | Value::Array(_) => value.to_string(),
        other => scalar(other),
    }
}

/// An API enum's wire name (`snake_case`), for types without `Display`.
pub fn label<T: serde::Serialize>(value: &T) -> String {
    scalar(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// A scalar as text (`-` for null).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A time in the local zone with how far it is from now: `2026-12-05 09:00:00 CET (in 3h)`.
pub fn when(at: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z"),
        relative(at, Utc::now())
    )
}

/// A cell that may be empty: the value, or `-` when absent.
pub fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// An optional time as [`ago`] (`-` when absent).
pub fn ago_opt(at: Option<DateTime<Utc>>) -> String {
    or_dash(at.map(ago))
}

/// A time relative to now: `just now`, `5m ago`, `in 2h`, `3d ago`.
pub fn ago(at: DateTime<Utc>) -> String {
    relative(at, Utc::now())
}

/// How far `at` is from `now`, in the largest whole unit.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    let span = secs.unsigned_abs();
    if span < 2 {
        return "just now".to_owned();
    }
    let amount = match span {
        0..60 => format!("{span}s"),
        60..3_600 => format!("{}m", span / 60),
        3_600..86_400 => format!("{}h", span / 3_600),
        _ => format!("{}d", span / 86_400),
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A local time without the relative part, for columns.
pub fn local(at: Option<DateTime<Utc>>) -> String {
    or_dash(at.map(|at| at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %Z")))
}

/// Text cut to `max` characters (with an ellipsis), on one line.
pub fn short(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Writes `text` to stdout at once (streamed output).
pub fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        closed(&e);
    }
}

/// Writes one line to stdout (see `outln!`).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{args}") {
        closed(&e);
    }
}

/// Stdout cannot be written: a reader that went away (`| head`) ends the process quietly;
/// anything else is reported.
fn closed(err: &std::io::Error) {
    if err.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("error: cannot write the output: {err}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_use_the_largest_whole_unit() {
        let now: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(relative(at("2026-01-01T12:00:01Z"), now), "just now");
        assert_eq!(relative(at("2026-01-01T11:59:30Z"), now), "30s ago");
        assert_eq!(relative(at("2026-01-01T12:05:00Z"), now), "in 5m");
        assert_eq!(relative(at("2026-01-01T09:00:00Z"), now), "3h ago");
        assert_eq!(relative(at("2026-01-04T12:00:00Z"), now), "in 3d");
    }

    #[test]
    fn long_text_is_cut_to_one_line() {
        assert_eq!(short("a\nb  c", 10), "a b c");
        assert_eq!(short("abcdefghij", 5), "abcd…");
    }
}
