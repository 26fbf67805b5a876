//! Who a `/v1` request acts for, and the proof of it.
//!
//! Every `/v1` request names its account (`X-Account-Id`) and proves it
//! (`Authorization: Bearer <api key>`). The [`Tenant`] extractor checks both
//! headers' shape before any handler runs (400 for a bad account header,
//! 401 for a missing or malformed key). Handlers then reach tenant data only
//! through [`Tenant::transaction`]: one tenant transaction per request
//! (see [`crate::db::tenant`]) whose first query checks the key, before
//! anything else of the request runs; an unknown account or a wrong or
//! revoked key ends it with 401. The key check and the request's work thus
//! see the same snapshot, and share its round trips.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::error::ApiError;
use super::middleware::RequestId;
use crate::db::{self, Actor, Database, TenantConn};
use crate::domain::{AccountId, RowId};
use crate::models::api_key;

pub const ACCOUNT_HEADER: &str = "x-account-id";

/// A tenant as the request claims it: the account, and the key to prove it
/// with (checked in the request's transaction, see the module's comment).
#[derive(Clone)]
pub struct Tenant {
    account: AccountId,
    key: String,
    request: HttpRequest,
}

/// Never the key: a Debug line may end up in a log.
impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("account", &self.account)
            .field("key", &"(redacted)")
            .finish()
    }
}

/// The account of an authenticated request, kept in the request's
/// extensions for the access log.
#[derive(Debug, Clone)]
pub struct AuthenticatedAccount(pub AccountId);

impl Tenant {
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// Runs `work` in one transaction scoped to this tenant, off the async
    /// workers, once the key has been checked in it: all of a request's
    /// database work happens, or none of it. A failed key check is 401 and
    /// runs nothing of `work`; so does every error `work` reports, which is
    /// why handlers validate their input inside it. Work that outlived the
    /// request's deadline (the client was answered 503) is rolled back.
    pub async fn transaction<T, F>(&self, db: &Database, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut TenantConn<'_>) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let account = self.account.clone();
        let key = self.key.clone();
        let request_id = self
            .request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone());
        let first_account = account.clone();
        let timeouts = db.timeouts();
        let (authenticated, events_written, outcome) = db
            .run_after(
                move |conn| db::tenant::begin(conn, &first_account, timeouts),
                move |conn, deadline| {
                    let mut authenticated = false;
                    let mut events_written = 0;
                    let outcome = (|| {
                        let anonymous = Actor::default();
                        let key_id = api_key::authenticate(
                            &mut TenantConn::new(&mut *conn, &account, &anonymous),
                            &key,
                        )?
                        .ok_or(ApiError::Unauthorized)?;
                        authenticated = true;
                        let actor = Actor {
                            api_key_id: Some(key_id.get()),
                            request_id,
                        };
                        let mut scoped = TenantConn::new(&mut *conn, &account, &actor);
                        let value = work(&mut scoped)?;
                        events_written = scoped.events_written();
                        Ok(value)
                    })();
                    let outcome = match outcome {
                        Ok(_) if deadline.passed() => db::tenant::rollback(
                            conn,
                            ApiError::from(db::DbError::Deadline(std::time::Duration::ZERO)),
                        ),
                        outcome => db::tenant::finish(conn, outcome),
                    };
                    let committed = if outcome.is_ok() { events_written } else { 0 };
                    Ok::<_, ApiError>((authenticated, committed, outcome))
                },
            )
            .await?;
        if events_written > 0
            && let Some(state) = self
                .request
                .app_data::<actix_web::web::Data<super::AppState>>()
        {
            state.metrics.count_events(events_written);
        }
        if authenticated {
            self.request
                .extensions_mut()
                .insert(AuthenticatedAccount(self.account.clone()));
        }
        outcome
    }
}

/// The account the request names: exactly one well-formed X-Account-Id.
fn claimed_account(headers: &HeaderMap) -> Result<AccountId, ApiError> {
    let mut values = headers.get_all(ACCOUNT_HEADER);
    let Some(value) = values.next() else {
        return Err(ApiError::invalid_account_header(
            "the X-Account-Id header is missing",
        ));
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_account_header(
            "send exactly one X-Account-Id header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| ApiError::invalid_account_header("X-Account-Id must be plain ASCII"))?;
    AccountId::parse(value)
        .map_err(|rule| ApiError::invalid_account_header(&format!("X-Account-Id {rule}")))
}

/// The presented key: exactly one `Authorization: Bearer <key>`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claimed = claimed_account(req.headers()).and_then(|account| {
            let key = bearer_token(req.headers())
                .filter(|key| api_key::well_formed(key))
                .ok_or(ApiError::Unauthorized)?;
            Ok(Tenant {
                account,
                key: key.to_owned(),
                request: req.clone(),
            })
        });
        ready(claimed)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_one_bearer_credential_is_accepted() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer abc")])),
            Some("abc")
        );
        for bad in [
            "abc",
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Token abc",
        ] {
            assert_eq!(
                bearer_token(&headers(&[("authorization", bad)])),
                None,
                "{bad}"
            );
        }
        let twice = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(bearer_token(&twice), None);
    }

    #[test]
    fn the_account_header_must_be_single_and_well_formed() {
        assert!(claimed_account(&headers(&[("x-account-id", "acme")])).is_ok());
        assert!(claimed_account(&headers(&[])).is_err());
        assert!(claimed_account(&headers(&[("x-account-id", "")])).is_err());
        assert!(claimed_account(&headers(&[("x-account-id", "a b")])).is_err());
        assert!(claimed_account(&headers(&[("x-account-id", "\"acme\"")])).is_err());
        let twice = headers(&[("x-account-id", "acme"), ("x-account-id", "acme")]);
        assert!(claimed_account(&twice).is_err());
    }
}
