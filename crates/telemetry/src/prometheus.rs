//! The process-wide Prometheus recorder behind the `metrics` facade.
//!
//! It is installed lazily on first use, so libraries and tests that record metrics work without
//! [`crate::init`]; `init` merely installs it early. Metrics whose names end in
//! `duration_seconds` are rendered as real histograms with [`DURATION_BUCKETS`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Upper bounds (seconds) of the histogram buckets of every `*_duration_seconds` metric:
/// 0.5 ms to 10 s, dense where our latency targets are (below 50 ms).
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Metric-name suffix that selects [`DURATION_BUCKETS`].
const DURATION_SUFFIX: &str = "duration_seconds";

/// Upper bounds (seconds) of `*_lateness_seconds` histograms (how late something ran compared
/// with when it was due, e.g. a schedule's fire time): 1 ms to 5 min.
pub const LATENESS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Metric-name suffix that selects [`LATENESS_BUCKETS`].
const LATENESS_SUFFIX: &str = "lateness_seconds";

/// How often raw histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The installed recorder: its handle, and the recorder itself when it is the global one.
struct Installed {
    handle: PrometheusHandle,
    recorder: Option<Arc<PrometheusRecorder>>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The process-wide Prometheus handle. The first call builds the recorder and installs it as the
/// global `metrics` recorder; concurrent first calls are serialised by a `OnceLock`.
///
/// If some other recorder was installed first, a warning is logged and the returned handle
/// renders nothing rather than panicking.
pub fn metrics_handle() -> &'static PrometheusHandle {
    &INSTALLED.get_or_init(install_recorder).handle
}

/// The process-wide recorder, for metric handles that must be registered with it whatever
/// recorder a thread has set locally (the HTTP metrics cache their handles per thread). `None`
/// when another global recorder was installed first.
pub(crate) fn process_recorder() -> Option<&'static Arc<PrometheusRecorder>> {
    INSTALLED.get_or_init(install_recorder).recorder.as_ref()
}

/// Prometheus text exposition of everything recorded so far (serve it from `GET /metrics`).
pub fn render_metrics() -> String {
    metrics_handle().render()
}

fn install_recorder() -> Installed {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix(DURATION_SUFFIX.to_owned()),
            DURATION_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix(LATENESS_SUFFIX.to_owned()),
                LATENESS_BUCKETS,
            )
        })
        // Only fails for an empty bucket list, which neither list is.
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = Arc::new(builder.build_recorder());
    let handle = recorder.handle();
    if let Err(err) = metrics::set_global_recorder(Arc::clone(&recorder)) {
        tracing::warn!(
            error = %err,
            "another metrics recorder is already installed; /metrics will render nothing"
        );
        return Installed {
            handle,
            recorder: None,
        };
    }
    spawn_upkeep(handle.clone());
    Installed {
        handle,
        recorder: Some(recorder),
    }
}

/// `install_recorder` (unlike `install`) leaves upkeep to the caller: without it, histogram
/// samples pile up between scrapes. A plain thread keeps this independent of any async runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("prometheus-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "could not start the Prometheus upkeep thread");
    }
}
