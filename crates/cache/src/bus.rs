//! The invalidation bus: keeps every replica's L1 coherent with Redis.
//!
//! Each [`Cache`](crate::Cache) publishes an [`Invalidation`] on `{prefix}:cache:invalidate`
//! when it drops a key or a namespace, and runs one subscriber task on a dedicated pub/sub
//! connection that applies the other replicas' messages to its own L1 (its own messages are
//! recognised by the sender id and ignored).
//!
//! Pub/sub is fire-and-forget, so while the subscription is down messages are lost. Therefore,
//! whenever the subscription is re-established after a loss, the whole L1 is cleared. A silent
//! network partition is detected by pinging the subscription connection periodically. The task
//! stops when the last `Cache` handle is dropped (the handle owns the task's stop signal).

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::{self, aio::PubSubSink, aio::PubSubStream};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::{debug, info};
use uuid::Uuid;

use crate::counters::BUS_LABEL;
use crate::keys::Keys;
use crate::l1::L1;
use crate::l2::Redis;

/// First delay before re-subscribing; doubled after each failure up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often the subscription connection is checked with a `PING`.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Why the subscription could not be (re-)established; the subscriber retries.
#[derive(Debug, thiserror::Error)]
enum SubscribeError {
    #[error(transparent)]
    Redis(redis::RedisError),
    #[error("subscribing timed out")]
    TimedOut,
}

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Invalidation {
    /// The publishing `Cache` instance, so it can skip its own messages.
    pub(crate) sender: Uuid,
    #[serde(flatten)]
    pub(crate) target: Target,
}

/// What to drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Target {
    /// One entry, by its full key.
    Key { key: String },
    /// A namespace's cached version and all of its entries.
    Namespace { category: String, namespace: String },
}

/// The publishing side, owned by the `Cache`. Dropping it stops the subscriber task.
pub(crate) struct Bus {
    sender: Uuid,
    channel: String,
    _stop: oneshot::Sender<()>,
}

impl Bus {
    /// Spawns the subscriber task. The returned receiver fires once the first subscription
    /// attempt has finished (either way), so `connect` can return with the bus already live.
    pub(crate) fn start(
        client: redis::Client,
        redis: Arc<Redis>,
        l1: L1,
        keys: Keys,
        connect_timeout: Duration,
    ) -> (Self, oneshot::Receiver<()>) {
        let sender = Uuid::new_v4();
        let channel = keys.channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let subscriber = Subscriber {
            client,
            redis,
            l1,
            keys,
            sender,
            channel: channel.clone(),
            connect_timeout,
        };
        tokio::spawn(subscriber.run(stop_rx, ready_tx));
        let bus = Self {
            sender,
            channel,
            _stop: stop_tx,
        };
        (bus, ready_rx)
    }

    /// Tells the other replicas to drop `target`. Failures are counted and logged by `redis`.
    pub(crate) async fn publish(&self, redis: &Redis, label: &'static str, target: Target) {
        let Some(payload) = self.message(target) else {
            return;
        };
        let _ = redis.publish(label, &self.channel, &payload).await;
    }

    /// The encoded message telling other replicas to drop `target`.
    pub(crate) fn message(&self, target: Target) -> Option<Vec<u8>> {
        serde_json::to_vec(&Invalidation {
            sender: self.sender,
            target,
        })
        .ok()
    }

    /// The channel messages go to.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }
}

/// Why [`Subscriber::listen`] returned.
#[derive(PartialEq, Eq)]
enum Ended {
    Stopped,
    Lost,
}

/// State of the background subscriber task.
struct Subscriber {
    client: redis::Client,
    redis: Arc<Redis>,
    l1: L1,
    keys: Keys,
    sender: Uuid,
    channel: String,
    connect_timeout: Duration,
}

impl Subscriber {
    async fn run(self, mut stop: oneshot::Receiver<()>, ready: oneshot::Sender<()>) {
        let mut ready = Some(ready);
        let mut retry = RETRY_MIN;
        let mut may_have_missed = false;
        loop {
            let attempt = tokio::select! {
                _ = &mut stop => return,
                attempt = self.subscribe() => attempt,
            };
            let subscribed = attempt.is_ok();
            match attempt {
                Ok((sink, stream)) => {
                    // Clear before reporting healthy, so nobody sees "healthy" with a stale L1.
                    if may_have_missed {
                        self.l1.clear();
                        info!(
                            "invalidation bus resubscribed; L1 cleared as messages may have been missed"
                        );
                    }
                    self.redis.record_success();
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                    retry = RETRY_MIN;
                    if self.listen(sink, stream, &mut stop).await == Ended::Stopped {
                        return;
                    }
                    self.redis
                        .record_failure(BUS_LABEL, &"invalidation subscription lost");
                }
                Err(error) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                    self.redis.record_failure(BUS_LABEL, &error);
                }
            }
            may_have_missed = true;
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(retry) => {}
            }
            if !subscribed {
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }

    async fn subscribe(&self) -> Result<(PubSubSink, PubSubStream), SubscribeError> {
        let attempt = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(split)) => Ok(split),
            Ok(Err(error)) => Err(SubscribeError::Redis(error)),
            Err(_) => Err(SubscribeError::TimedOut),
        }
    }

    async fn listen(
        &self,
        mut sink: PubSubSink,
        mut stream: PubSubStream,
        stop: &mut oneshot::Receiver<()>,
    ) -> Ended {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            tokio::select! {
                _ = &mut *stop => return Ended::Stopped,
                message = stream.next() => match message {
                    Some(message) => self.apply(message.get_payload_bytes()).await,
                    None => return Ended::Lost,
                },
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(self.connect_timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        return Ended::Lost;
                    }
                }
            }
        }
    }

    async fn apply(&self, payload: &[u8]) {
        let message: Invalidation = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                debug!(%error, "ignoring malformed invalidation message");
                return;
            }
        };
        if message.sender == self.sender {
            return;
        }
        match message.target {
            Target::Key { key } => self.l1.drop_key(&key).await,
            Target::Namespace {
                category,
                namespace,
            } => {
                let version_key = self.keys.namespace_version(&category, &namespace);
                self.l1.drop_namespace(&version_key).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        for target in [
            Target::Key {
                key: "tn:cache:jwt:k:a".into(),
            },
            Target::Namespace {
                category: "rag".into(),
                namespace: "tenant-1".into(),
            },
        ] {
            let message = Invalidation {
                sender: Uuid::new_v4(),
                target,
            };
            let json = serde_json::to_vec(&message).unwrap();
            assert_eq!(
                serde_json::from_slice::<Invalidation>(&json).unwrap(),
                message
            );
        }
    }
}
