//! The offline echo provider, and the metrics every provider call emits.

use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::json;
use temponest_llm::{ChatRequest, Message, ProviderConfig, ProviderKind, Providers, Usage};

use crate::support::{FakeServer, Reply, chat_streaming, client, config, provider};

#[tokio::test]
async fn echo_replies_with_the_last_user_message() {
    let providers = Providers::from_config(&Providers::defaults(), client()).unwrap();
    let echo = providers.get("echo").unwrap();
    assert_eq!(echo.kind(), ProviderKind::Echo);
    let request = ChatRequest::new(
        "any",
        vec![
            Message::system("You echo."),
            Message::user("first question"),
            Message::assistant("Echo: first question", vec![]),
            Message::user("how  are\tyou"),
        ],
    );
    let response = echo.chat(&request, None).await.unwrap();
    assert_eq!(response.content, "Echo: how  are\tyou");
    assert!(response.tool_calls.is_empty());
    assert_eq!(
        response.usage,
        Some(Usage {
            prompt_tokens: 2 + 2 + 3 + 3,
            completion_tokens: 4
        })
    );
    assert_eq!(response.attempts, 1);

    let (streamed, deltas) = chat_streaming(echo.as_ref(), &request).await;
    assert_eq!(deltas, vec!["Echo: ", "how ", " ", "are\t", "you"]);
    assert_eq!(deltas.concat(), streamed.unwrap().content);
}

#[tokio::test]
async fn echo_without_a_user_message() {
    let echo = provider(ProviderConfig::new(ProviderKind::Echo));
    let response = echo
        .chat(
            &ChatRequest::new("any", vec![Message::system("only system")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.content, "Echo: ");
    assert_eq!(response.usage.unwrap().completion_tokens, 1);
}

/// Records counter increments and histogram samples by rendered key.
#[derive(Default)]
struct TestRecorder {
    counters: Arc<Mutex<Vec<(String, u64)>>>,
    histograms: Arc<Mutex<Vec<String>>>,
}

struct CounterHandle(String, Arc<Mutex<Vec<(String, u64)>>>);
impl metrics::CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.1.lock().unwrap().push((self.0.clone(), value));
    }
    fn absolute(&self, _value: u64) {}
}

struct HistogramHandle(String, Arc<Mutex<Vec<String>>>);
impl metrics::HistogramFn for HistogramHandle {
    fn record(&self, _value: f64) {
        self.1.lock().unwrap().push(self.0.clone());
    }
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(CounterHandle(render(key), self.counters.clone())))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(HistogramHandle(
            render(key),
            self.histograms.clone(),
        )))
    }
}

// A current-thread runtime, so the thread-local recorder sees every task of the call.
#[tokio::test(flavor = "current_thread")]
async fn calls_are_counted_by_provider_and_outcome() {
    let recorder = TestRecorder::default();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let echo = provider(ProviderConfig::new(ProviderKind::Echo));
    echo.chat(&ChatRequest::new("m", vec![Message::user("hi")]), None)
        .await
        .unwrap();
    let server = FakeServer::replying(400, json!({"error": {"message": "bad"}})).await;
    let openai = provider(config(ProviderKind::OpenAi, &server.url));
    openai
        .chat(&ChatRequest::new("m", vec![Message::user("hi")]), None)
        .await
        .unwrap_err();

    let counters = recorder.counters.lock().unwrap().clone();
    assert_eq!(
        counters,
        vec![
            ("llm_requests_total{outcome=ok,provider=echo}".to_owned(), 1),
            (
                "llm_requests_total{outcome=upstream,provider=openai}".to_owned(),
                1
            ),
        ]
    );
    let histograms = recorder.histograms.lock().unwrap().clone();
    assert!(histograms.contains(&"llm_request_duration_seconds{provider=echo}".to_owned()));
    assert!(histograms.contains(&"llm_request_duration_seconds{provider=openai}".to_owned()));
    assert!(histograms.contains(&"llm_queue_wait_seconds{provider=openai}".to_owned()));
}

#[tokio::test(flavor = "current_thread")]
async fn each_retry_is_counted_by_provider() {
    let recorder = TestRecorder::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = FakeServer::start(vec![
        Reply::raw(503, "text/plain", "busy"),
        Reply::raw(503, "text/plain", "busy"),
        Reply::json(
            200,
            json!({"choices": [{"message": {"role": "assistant", "content": "hi"}}]}),
        ),
    ])
    .await;
    let openai = provider(config(ProviderKind::OpenAi, &server.url));
    let response = openai
        .chat(&ChatRequest::new("m", vec![Message::user("hi")]), None)
        .await
        .unwrap();
    assert_eq!(response.attempts, 3);

    let retries: u64 = recorder
        .counters
        .lock()
        .unwrap()
        .iter()
        .filter(|(key, _)| key == "llm_retries_total{provider=openai}")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(retries, 2, "two failed attempts, two retries");
}
