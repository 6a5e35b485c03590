//! Fixed-rate (open-loop) publisher of application events for `run.sh webhooks-latency`:
//! POSTs N events to `/events` at RPS per second, each request on its own task (so a slow
//! response does not delay the next send), then prints the achieved rate and status counts.
//!
//!   webhook-publisher --host URL --token TOKEN --rps RPS -n N [--event-type load.test]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "TEMPONEST_HOST")]
    host: String,
    #[arg(long, env = "TOKEN")]
    token: String,
    /// Events per second.
    #[arg(long)]
    rps: f64,
    /// Number of events.
    #[arg(short = 'n', long)]
    n: u64,
    #[arg(long, default_value = "load.test")]
    event_type: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let url = format!("{}/events", args.host.trim_end_matches('/'));
    let auth = format!("Bearer {}", args.token);
    let period = Duration::from_secs_f64(1.0 / args.rps);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.n as usize);
    for i in 0..args.n {
        // Absolute schedule: no drift when a tick is late.
        tokio::time::sleep_until((start + period.mul_f64(i as f64)).into()).await;
        let body = format!(r#"{{"event_type":"{}","payload":{{"seq":{i}}}}}"#, args.event_type);
        let request = client
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = match request.send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            (status, sent.elapsed())
        }));
    }
    let sent_secs = start.elapsed().as_secs_f64();
    let mut statuses = BTreeMap::new();
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (status, latency) = task.await.expect("task");
        *statuses.entry(status).or_insert(0u64) += 1;
        latencies.push(latency);
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "publisher: {} events in {:.2} s (target {} /s, achieved {:.0} /s); statuses {:?} (0 = transport error)",
        args.n,
        sent_secs,
        args.rps,
        args.n as f64 / sent_secs,
        statuses
    );
    if !latencies.is_empty() {
        println!(
            "publisher: POST /events response time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
    }
}
