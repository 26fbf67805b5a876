//! The tenant boundary.
//!
//! Every `/v1` request names its account (`X-Account-Id`) and proves it
//! (`Authorization: Bearer <api key>`). The [`Tenant`] extractor checks both
//! before any handler runs. Handlers then reach tenant data only through
//! [`Tenant::transaction`], which hands model functions a [`TenantConn`]:
//! a connection inside a transaction whose `app.account_id` is set to the
//! tenant (what row-level security checks), carrying the account every
//! model query filters on. There is no other way from a handler to a
//! connection that can see tenant rows.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::Database;
use crate::domain::{AccountId, ApiKeyId};
use crate::http::{ApiError, AppState};
use crate::models::api_key;

pub const ACCOUNT_HEADER: &str = "x-account-id";

/// A connection inside a tenant transaction.
pub struct TenantConn<'a> {
    conn: &'a mut PgConnection,
    account: &'a AccountId,
}

impl TenantConn<'_> {
    /// The account every query through this connection must filter on.
    pub fn account(&self) -> &AccountId {
        self.account
    }

    /// The account id as a string, for Diesel filters.
    pub fn account_id(&self) -> &str {
        self.account.as_str()
    }

    pub fn pg(&mut self) -> &mut PgConnection {
        self.conn
    }
}

/// Runs `work` in a transaction scoped to `account`: `app.account_id` is set
/// first, with `is_local = true` so it ends with the transaction and a pooled
/// connection never carries it to its next user.
pub fn in_tenant_transaction<T, E>(
    conn: &mut PgConnection,
    account: &AccountId,
    work: impl FnOnce(&mut TenantConn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        diesel::sql_query("SELECT set_config('app.account_id', $1, true)")
            .bind::<Text, _>(account.as_str())
            .execute(conn)?;
        work(&mut TenantConn { conn, account })
    })
}

/// An authenticated tenant: the account of the request, and the key that
/// proved it.
#[derive(Debug, Clone)]
pub struct Tenant {
    account: AccountId,
    key_id: ApiKeyId,
}

/// The account of an authenticated request, kept in the request's
/// extensions for the access log.
#[derive(Debug, Clone)]
pub struct AuthenticatedAccount(pub AccountId);

impl Tenant {
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn key_id(&self) -> ApiKeyId {
        self.key_id
    }

    /// Runs `work` in one transaction scoped to this tenant, off the async
    /// workers: all of a request's database work happens, or none of it.
    pub async fn transaction<T, F>(&self, db: &Database, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut TenantConn<'_>) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let account = self.account.clone();
        db.run(move |conn| in_tenant_transaction(conn, &account, work))
            .await
    }
}

/// The one answer to every failed authentication, whatever failed: an
/// unknown account and a wrong key must look the same.
fn unauthorized() -> ApiError {
    ApiError::Unauthorized
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
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = req.clone();
        Box::pin(async move {
            let account = claimed_account(request.headers())?;
            let key = bearer_token(request.headers())
                .ok_or_else(unauthorized)?
                .to_owned();
            let state = request
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal("the application state is missing"))?;
            let checked = account.clone();
            let key_id = state
                .db
                .run(move |conn| {
                    in_tenant_transaction(conn, &checked, |conn| api_key::authenticate(conn, &key))
                        .map_err(ApiError::from)
                })
                .await?
                .ok_or_else(unauthorized)?;
            request
                .extensions_mut()
                .insert(AuthenticatedAccount(account.clone()));
            Ok(Tenant { account, key_id })
        })
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
