//! The sender: `WEBHOOK_WORKERS` tasks inside `serve` that deliver queued
//! events to their endpoints.
//!
//! At least once, never twice at the same time, nothing lost: a worker
//! lists due deliveries of every account (the owner's
//! `due_webhook_deliveries`, which reads across accounts without locking),
//! then claims some of them one account at a time, in that account's
//! transaction (`webhook_delivery::claim`: `FOR UPDATE SKIP LOCKED`, so
//! workers of any number of instances each get different ones, and on
//! Citus a single-shard statement). The claim, committed before anything
//! is sent, moves the delivery's due time a lease ahead. The worker then
//! sends, and records the outcome in the delivery's account (delivered,
//! due again after the retry delay, or failed). A worker that dies
//! mid-send (the process killed, the machine gone) records nothing; once
//! the lease is over the delivery is due again and another worker sends
//! it. The lease is longer than a send may take, so a live worker's
//! delivery is never taken from it; receivers deduplicate the rare repeat
//! (after a kill) by `webhook-id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::client::{self, Request};
use super::destination::Policy;
use super::signing;
use crate::db::{self, Database, DbError};
use crate::domain::{AccountId, EventId, WebhookEndpointId};
use crate::models::webhook_delivery::{self, AttemptRecord, Claim, Next};
use crate::models::{event, webhook_endpoint};

/// How long a receiver has to answer (SPEC §11).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long a claim keeps other workers off a delivery: the timeout plus
/// room to connect and record the outcome.
pub const LEASE: Duration = Duration::from_secs(20);

/// The waits after the 1st, 2nd, … failed attempt; after the last one
/// fails too, the delivery is failed (8 attempts in all, over about 28 h).
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Deliveries one worker claims at a time.
const CLAIM_BATCH: i32 = 4;

/// Due deliveries a worker looks at to claim its batch from: more than it
/// claims, so that workers looking at once find different ones to take.
const CANDIDATES: i32 = 32;

/// What the sender asks the time: the system's, or one a test moves.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What follows attempt `attempt` (1-based) with this outcome.
pub fn next_after(attempt: i32, delivered: bool, now: DateTime<Utc>) -> Next {
    if delivered {
        return Next::Delivered;
    }
    let index = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX);
    match RETRY_DELAYS.get(index) {
        Some(delay) => Next::RetryAt(now + chrono::Duration::from_std(*delay).unwrap_or_default()),
        None => Next::Failed,
    }
}

/// The `webhook-id` of an event: stable across retries and redeliveries,
/// unique across accounts (`evt_<account>_<event id>`).
pub fn message_id(account: &str, event: i64) -> String {
    format!("evt_{account}_{event}")
}

/// The body Standard Webhooks prescribes: `{"type", "timestamp", "data"}`.
pub fn message_body(event: &event::Event) -> Vec<u8> {
    let body = serde_json::json!({
        "type": event.event_type,
        "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": event.data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Outcomes counted for /metrics.
#[derive(Debug, Default)]
pub struct Outcomes {
    pub delivered: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
}

/// The sender's settings and what it shares between workers.
pub struct Sender {
    /// Its own pool (the app role), so that sending never takes a
    /// connection a request is waiting for.
    pub db: Database,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    /// How long an idle worker waits before it looks for work again.
    pub poll: Duration,
    pub outcomes: Arc<Outcomes>,
    stopping: AtomicBool,
}

impl Sender {
    pub fn new(
        db: Database,
        policy: Policy,
        clock: Arc<dyn Clock>,
        outcomes: Arc<Outcomes>,
    ) -> Self {
        Self {
            db,
            policy,
            clock,
            poll: Duration::from_millis(200),
            outcomes,
            stopping: AtomicBool::new(false),
        }
    }

    /// Asks the workers to stop after the delivery each is sending.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// One worker: claims and sends until [`Sender::stop`].
    pub async fn work(self: Arc<Self>) {
        while !self.stopping() {
            match self.run_once().await {
                Ok(0) => self.idle().await,
                Ok(_) => {}
                Err(error) => {
                    log::warn!("webhook sender: {error}");
                    self.idle().await;
                }
            }
        }
    }

    async fn idle(&self) {
        let until = Instant::now() + self.poll;
        while !self.stopping() && Instant::now() < until {
            actix_web::rt::time::sleep(Duration::from_millis(50).min(self.poll)).await;
        }
    }

    /// Claims a batch and sends it; how many deliveries it handled.
    pub async fn run_once(&self) -> Result<usize, SendError> {
        let now = self.clock.now();
        let due = self
            .db
            .run(move |conn, _| Ok::<_, SendError>(webhook_delivery::due(conn, now, CANDIDATES)?))
            .await?;
        // By account, oldest due first.
        let mut by_account: Vec<(String, Vec<i64>)> = Vec::new();
        for candidate in due {
            match by_account
                .iter_mut()
                .find(|(a, _)| *a == candidate.account_id)
            {
                Some((_, ids)) => ids.push(candidate.delivery_id),
                None => by_account.push((candidate.account_id, vec![candidate.delivery_id])),
            }
        }
        let mut handled = 0;
        for (account, ids) in by_account {
            let left = CLAIM_BATCH - i32::try_from(handled).unwrap_or(CLAIM_BATCH);
            if left <= 0 {
                break;
            }
            let account = AccountId::parse(&account).map_err(SendError::Account)?;
            let claims = self
                .db
                .run(move |conn, _| {
                    db::in_tenant_transaction(conn, &account, |conn| {
                        Ok::<_, SendError>(webhook_delivery::claim(conn, &ids, now, LEASE, left)?)
                    })
                })
                .await?;
            for claim in claims {
                self.deliver(claim).await?;
                handled += 1;
            }
        }
        Ok(handled)
    }

    /// Sends one claimed delivery and records what came of it.
    async fn deliver(&self, claim: Claim) -> Result<(), SendError> {
        let account = AccountId::parse(&claim.account_id).map_err(SendError::Account)?;
        let read_account = account.clone();
        let delivery_id = claim.delivery_id;
        let loaded = self
            .db
            .run(move |conn, _| {
                db::in_tenant_transaction(conn, &read_account, |conn| {
                    let Some(delivery) = webhook_delivery::find(conn, delivery_id)? else {
                        return Ok::<_, SendError>(None);
                    };
                    let event = event::find(conn, EventId::from_db(delivery.event_id))?;
                    let endpoint = webhook_endpoint::find(
                        conn,
                        WebhookEndpointId::from_db(delivery.endpoint_id),
                    )?;
                    Ok(event.zip(endpoint).map(|(e, p)| (delivery, e, p)))
                })
            })
            .await?;
        // Gone (endpoint or event deleted) or claimed again since: nothing to do.
        let Some((delivery, event, endpoint)) = loaded else {
            return Ok(());
        };
        if delivery.status != "pending" || delivery.attempts != claim.attempt {
            return Ok(());
        }
        let attempted_at = self.clock.now();
        let id = message_id(account.as_str(), event.id);
        let body = message_body(&event);
        let timestamp = attempted_at.timestamp();
        let signature = signing::sign(&endpoint.secret, &id, timestamp, &body)
            .ok_or(SendError::Secret(endpoint.id))?;
        let policy = self.policy.clone();
        let url = endpoint.url.clone();
        let started = Instant::now();
        let result = actix_web::web::block(move || {
            let (destination, addresses) = policy.check(&url).map_err(|r| r.to_string())?;
            let headers = [
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ];
            client::post(&Request {
                destination: &destination,
                addresses: &addresses,
                headers: &headers,
                body: &body,
                timeout: TIMEOUT,
            })
            .map_err(|error| describe(&error))
        })
        .await
        .unwrap_or_else(|_| Err("the sending task was lost".into()));
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status_code, error) = match &result {
            Ok(response) if (200..300).contains(&response.status) => {
                (Some(i32::from(response.status)), None)
            }
            Ok(response) => (
                Some(i32::from(response.status)),
                Some(answered(response.status, &response.body)),
            ),
            Err(error) => (None, Some(error.clone())),
        };
        let delivered = error.is_none();
        let next = next_after(claim.attempt, delivered, self.clock.now());
        let record = AttemptRecord {
            attempted_at,
            status_code,
            latency_ms,
            error,
        };
        let attempt = claim.attempt;
        self.db
            .run(move |conn, _| {
                db::in_tenant_transaction(conn, &account, |conn| {
                    Ok::<_, SendError>(webhook_delivery::record_attempt(
                        conn, &delivery, attempt, &record, next,
                    )?)
                })
            })
            .await?;
        let counter = match next {
            Next::Delivered => &self.outcomes.delivered,
            Next::RetryAt(_) => &self.outcomes.retried,
            Next::Failed => &self.outcomes.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// An I/O error as the deliveries log shows it.
fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::TimedOut => format!("no answer within {}s", TIMEOUT.as_secs()),
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => error.to_string(),
    }
}

/// A non-2xx answer as the log shows it: the status and the body's start.
fn answered(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.is_empty() {
        format!("answered {status}")
    } else {
        format!("answered {status}: {text}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("a claimed delivery names an invalid account: {0}")]
    Account(String),
    #[error("webhook endpoint {0} has a malformed secret")]
    Secret(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_retries_seven_times_then_fails() {
        let now = Utc::now();
        assert_eq!(next_after(1, true, now), Next::Delivered);
        assert_eq!(
            next_after(1, false, now),
            Next::RetryAt(now + chrono::Duration::seconds(5))
        );
        assert_eq!(
            next_after(2, false, now),
            Next::RetryAt(now + chrono::Duration::minutes(5))
        );
        assert_eq!(
            next_after(7, false, now),
            Next::RetryAt(now + chrono::Duration::hours(10))
        );
        assert_eq!(next_after(8, false, now), Next::Failed);
    }

    #[test]
    fn message_ids_are_unique_across_accounts() {
        assert_eq!(message_id("acme", 7), "evt_acme_7");
        assert_ne!(message_id("a_1", 2), message_id("a", 12));
    }
}
