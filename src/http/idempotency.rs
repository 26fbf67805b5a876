//! `Idempotency-Key` on POSTs under /v1, with Stripe's semantics:
//!
//! - the same key and the same request (method, path, body bytes) within
//!   24 hours: the first response again, with `Idempotent-Replayed: true`,
//!   and nothing changes;
//! - the same key with a different request: 422;
//! - the same key while the first request is still running: 409.
//!
//! Keys are per account. Once a request has passed validation and its work
//! has begun, its response is remembered whatever it is, a 404 or a 409
//! included, so that a retry never does what the first attempt did not
//! (a payment refused on a draft is not recorded by a retry after the
//! invoice was issued). Not remembered, so the request may be retried with
//! its key: validation failures (before any work), 401, 5xx (nothing
//! happened, or the outcome is unknown), and the 409 of a key in use.
//!
//! The mechanism: the work runs in a savepoint of the request's
//! transaction; if it fails with a response worth remembering, the
//! savepoint is rolled back (its changes undone) and the response stored in
//! the same transaction, which commits. While a request runs it holds a
//! transaction-scoped advisory lock on its key: a concurrent retry finds
//! it taken. Expired keys are pruned for every account by the service's
//! maintenance task.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use actix_web::ResponseError;
use diesel::Connection;

use super::error::{ApiError, PROBLEM_JSON};
use super::tenant::Tenant;
use crate::db::Database;
use crate::db::TenantConn;
use crate::models::idempotency_key;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;

/// A POST's optional Idempotency-Key.
#[derive(Debug, Clone)]
pub struct IdempotentPost {
    claim: Option<Claim>,
}

/// A key, with what identifies the request it was sent with.
#[derive(Debug, Clone)]
struct Claim {
    key: String,
    method: String,
    target: String,
}

impl FromRequest for IdempotentPost {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut values = req.headers().get_all(IDEMPOTENCY_KEY_HEADER);
        let key = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => {
                return ready(Err(ApiError::bad_request(
                    "Send at most one Idempotency-Key header",
                )));
            }
            (Some(value), None) => {
                let valid = value.to_str().ok().filter(|key| {
                    (1..=MAX_KEY_LEN).contains(&key.len())
                        && key.bytes().all(|b| b.is_ascii_graphic())
                });
                match valid {
                    Some(key) => Some(key.to_owned()),
                    None => {
                        return ready(Err(ApiError::bad_request(format!(
                            "An Idempotency-Key is 1 to {MAX_KEY_LEN} printable ASCII characters without spaces"
                        ))));
                    }
                }
            }
        };
        // Only a request with a key pays for identifying it.
        let claim = key.map(|key| Claim {
            key,
            method: req.method().to_string(),
            target: match req.uri().query() {
                Some(query) => format!("{}?{query}", req.path()),
                None => req.path().to_owned(),
            },
        });
        ready(Ok(Self { claim }))
    }
}

enum Outcome {
    Fresh(Vec<u8>),
    /// A remembered refusal: the work failed after it began.
    Refused(StatusCode, Vec<u8>),
    Replayed(StatusCode, Vec<u8>),
}

impl Claim {
    fn request_hash(&self, body: &[u8]) -> Vec<u8> {
        let mut hasher = Sha256::new();
        hasher.update(self.method.as_bytes());
        hasher.update([0]);
        hasher.update(self.target.as_bytes());
        hasher.update([0]);
        hasher.update(body);
        hasher.finalize().to_vec()
    }
}

/// Whether a failure of begun work is the request's answer (remembered
/// under its key), rather than a reason to try again.
fn is_remembered(error: &ApiError) -> bool {
    let status = error.status_code();
    status.is_client_error() && status != StatusCode::UNAUTHORIZED
}

fn problem_body(error: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&error.problem()).unwrap_or_else(|_| b"{}".to_vec())
}

impl IdempotentPost {
    /// Checks the request with `parse`, then runs `work` in the tenant's
    /// transaction and answers `status` with its result as JSON — or, for a
    /// key seen before, what the first request got.
    pub async fn respond<V, T, P, F>(
        self,
        tenant: &Tenant,
        db: &Database,
        body: &[u8],
        status: StatusCode,
        parse: P,
        work: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        P: FnOnce() -> Result<V, ApiError> + Send + 'static,
        F: FnOnce(&mut TenantConn<'_>, V) -> Result<T, ApiError> + Send + 'static,
    {
        let claim = self
            .claim
            .map(|claim| (claim.request_hash(body), claim.key));
        let outcome = tenant
            .transaction(db, move |conn| {
                let input = parse()?;
                let Some((hash, key)) = &claim else {
                    let value = work(conn, input)?;
                    let json = serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))?;
                    return Ok(Outcome::Fresh(json));
                };
                if !idempotency_key::try_claim(conn, key)? {
                    return Err(ApiError::conflict(
                        "idempotency-key-in-use",
                        "A request with this Idempotency-Key is still being processed; retry once it has finished",
                    ));
                }
                if let Some(stored) = idempotency_key::find(conn, key)? {
                    if stored.request_hash != *hash {
                        return Err(ApiError::Unprocessable {
                            kind: "idempotency-key-reused",
                            detail: "This Idempotency-Key was already used for a different request; \
                                     use a new key for a new request"
                                .into(),
                        });
                    }
                    let status = u16::try_from(stored.response_status)
                        .ok()
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .unwrap_or(StatusCode::OK);
                    return Ok(Outcome::Replayed(status, stored.response_body));
                }
                let account = conn.account().clone();
                let actor = conn.actor().clone();
                let attempt = conn.pg().transaction(|pg| {
                    let value = work(&mut TenantConn::new(pg, &account, &actor), input)?;
                    serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))
                });
                let (outcome, stored_status, stored_body) = match attempt {
                    Ok(json) => (Outcome::Fresh(json.clone()), status, json),
                    Err(error) if is_remembered(&error) => {
                        let body = problem_body(&error);
                        (
                            Outcome::Refused(error.status_code(), body.clone()),
                            error.status_code(),
                            body,
                        )
                    }
                    Err(error) => return Err(error),
                };
                idempotency_key::store(conn, key, hash, stored_status.as_u16(), &stored_body)?;
                Ok(outcome)
            })
            .await?;
        Ok(match outcome {
            Outcome::Fresh(json) => HttpResponse::build(status)
                .content_type("application/json")
                .body(json),
            Outcome::Refused(status, json) => HttpResponse::build(status)
                .content_type(PROBLEM_JSON)
                .body(json),
            Outcome::Replayed(status, json) => {
                let content_type = if status.is_success() {
                    "application/json"
                } else {
                    PROBLEM_JSON
                };
                HttpResponse::build(status)
                    .content_type(content_type)
                    .insert_header((REPLAYED_HEADER, "true"))
                    .body(json)
            }
        })
    }
}
