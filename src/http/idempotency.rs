//! `Idempotency-Key` on POSTs under /v1, with Stripe's semantics:
//!
//! - the same key and the same request (method, path, body bytes) within
//!   24 hours: the first response again, with `Idempotent-Replayed: true`,
//!   and nothing changes;
//! - the same key with a different request: 422;
//! - the same key while the first request is still running: 409.
//!
//! Keys are per account. The response is stored in the same transaction as
//! the work it answers, so a request that fails stores nothing and may be
//! retried with its key. While a request runs it holds a transaction-scoped
//! advisory lock on its key: a concurrent retry finds it taken.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::db::Database;
use crate::models::idempotency_key;
use crate::tenant::{Tenant, TenantConn};

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

impl IdempotentPost {
    /// Runs `work` in the tenant's transaction and answers `status` with its
    /// result as JSON — or, for a key seen before, what the first request got.
    pub async fn respond<T, F>(
        self,
        tenant: &Tenant,
        db: &Database,
        body: &[u8],
        status: StatusCode,
        work: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        F: FnOnce(&mut TenantConn<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let claim = self
            .claim
            .map(|claim| (claim.request_hash(body), claim.key));
        let outcome = tenant
            .transaction(db, move |conn| {
                if let Some((hash, key)) = &claim {
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
                }
                let value = work(conn)?;
                let json = serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))?;
                if let Some((hash, key)) = &claim {
                    idempotency_key::store(conn, key, hash, status.as_u16(), &json)?;
                }
                Ok(Outcome::Fresh(json))
            })
            .await?;
        Ok(match outcome {
            Outcome::Fresh(json) => HttpResponse::build(status)
                .content_type("application/json")
                .body(json),
            Outcome::Replayed(status, json) => HttpResponse::build(status)
                .content_type("application/json")
                .insert_header((REPLAYED_HEADER, "true"))
                .body(json),
        })
    }
}
