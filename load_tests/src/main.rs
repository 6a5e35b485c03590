//! `temponest-load`: goose load tests of the auth and agents APIs (SPEC §9 `load_tests/`).
//!
//! ```text
//! temponest-load <health|register|login|me|refresh|agent-get|agent-list|agent-create|
//!                 execute-echo|execute-echo-stream> [--profile light|medium|heavy]
//!     [--shape ramp|sustain|spike] [--sustain SECS] [--host URL] [goose options...]
//! ```
//!
//! Every goose option (`--users`, `--run-time`, `--test-plan`, `--report-file`, ...) is accepted
//! and wins over what the profile and shape would set. Reports (HTML, markdown, JSON) and a
//! comparison with the SPEC §10 targets are written to `--report-dir`.

mod agents;
mod profiles;
mod scenarios;
mod targets;

use std::path::PathBuf;

use clap::Parser;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use profiles::{Profile, Shape};
use scenarios::Which;

/// Load tests for the TempoNest auth and agents APIs.
#[derive(Parser)]
#[command(name = "temponest-load")]
struct Cli {
    /// Which scenario to run.
    #[arg(value_enum, env = "LOAD_SCENARIO")]
    scenario: Which,
    /// How many users: light 10, medium 50, heavy 200.
    #[arg(long, value_enum, env = "LOAD_PROFILE", default_value = "light")]
    profile: Profile,
    /// How the user count moves: ramp (at the profile's hatch rate), sustain (all at once), spike.
    #[arg(long, value_enum, env = "LOAD_SHAPE", default_value = "ramp")]
    shape: Shape,
    /// Seconds at full load (the spike shape splits them into thirds).
    #[arg(long = "sustain", env = "LOAD_SUSTAIN_SECS", default_value_t = 60)]
    sustain_secs: u64,
    /// Folder for the HTML/markdown/JSON reports and the comparison with SPEC §10 (default:
    /// load_tests/target/reports, which git ignores).
    #[arg(long, env = "LOAD_REPORT_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/reports"))]
    report_dir: PathBuf,
    #[command(flatten)]
    goose: GooseConfiguration,
}

/// Whether the command line already shapes the run itself.
fn shaped_by_goose_flags(cli: &Cli) -> bool {
    cli.goose.users.is_some()
        || cli.goose.run_time.is_some()
        || std::env::args().any(|a| a.starts_with("--test-plan") || a.starts_with("--iterations"))
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let mut cli = Cli::parse();
    let name = format!(
        "{}-{}-{}",
        cli.scenario.report_name(),
        format!("{:?}", cli.profile).to_lowercase(),
        format!("{:?}", cli.shape).to_lowercase()
    );
    std::fs::create_dir_all(&cli.report_dir).map_err(GooseError::Io)?;
    if cli.goose.report_file.is_empty() {
        for ext in ["html", "md", "json"] {
            let file = cli.report_dir.join(format!("{name}.{ext}"));
            cli.goose.report_file.push(file.display().to_string());
        }
    }

    let shaped = shaped_by_goose_flags(&cli);
    let mut attack = GooseAttack::initialize_with_config(cli.goose.clone())?
        .register_scenario(cli.scenario.scenario())
        .set_default(GooseDefault::Host, "http://127.0.0.1:9000")?;
    if !shaped {
        let users = cli.profile.users();
        attack = match cli.shape {
            // Users and a hatch rate: goose resets the metrics once all users run, so the
            // figures cover the full load only.
            Shape::Ramp | Shape::Sustain => {
                let rate = match cli.shape {
                    Shape::Ramp => cli.profile.hatch_rate(),
                    _ => users,
                };
                attack
                    .set_default(GooseDefault::Users, users)?
                    .set_default(GooseDefault::IncreaseRate, rate.to_string().as_str())?
                    .set_default(GooseDefault::RunTime, cli.sustain_secs as usize)?
            }
            // A test plan: the figures cover the whole run, spike and quiet parts alike.
            Shape::Spike => {
                let plan = profiles::test_plan(cli.profile, cli.shape, cli.sustain_secs);
                attack.set_default(GooseDefault::TestPlan, plan.as_str())?
            }
        };
    }

    let metrics = attack.execute().await?;

    let Some(figures) = targets::Figures::from_metrics(&metrics, cli.scenario.measured_request())
    else {
        eprintln!("no {} request was made", cli.scenario.measured_request());
        std::process::exit(1);
    };
    let header = format!(
        "# {name}: {} users max, {} s\n\n",
        metrics.maximum_users, metrics.duration
    );
    let comparison = format!("{header}{}", targets::comparison(&figures));
    println!("\n{comparison}");
    let path = cli.report_dir.join(format!("{name}-vs-targets.md"));
    if let Err(err) = std::fs::write(&path, &comparison) {
        eprintln!("could not write {}: {err}", path.display());
    } else {
        println!(
            "Reports: {}/{name}.{{html,md,json}}, {}",
            cli.report_dir.display(),
            path.display()
        );
    }
    Ok(())
}
