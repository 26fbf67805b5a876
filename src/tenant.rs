//! The tenant boundary.
//!
//! Every `/v1` request names its account (`X-Account-Id`) and proves it
//! (`Authorization: Bearer <api key>`). The [`Tenant`] extractor checks both
//! headers before any handler runs (400 for a bad account header, 401 for a
//! missing or malformed key). Handlers then reach tenant data only through
//! [`Tenant::transaction`]: one transaction per request whose first
//! statements set `app.account_id` (what row-level security checks) and
//! check the key, before anything else of the request runs; an unknown
//! account or a wrong or revoked key ends it with 401. The key check and the
//! request's work thus see the same snapshot, and share its round trips.
//! Model functions get a [`TenantConn`], which carries the account every
//! model query filters on. There is no other way from a handler to a
//! connection that can see tenant rows.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::Database;
use crate::domain::AccountId;
use crate::http::ApiError;
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

/// Begins a tenant transaction: `BEGIN` and the setting in one round trip
/// (one simple-query message), the setting local to the transaction
/// (`is_local = true`) so a pooled connection never carries it to its next
/// user.
pub fn begin(conn: &mut PgConnection, account: &AccountId) -> QueryResult<()> {
    // The account id's format admits no quote; doubling them anyway keeps
    // this one literal whatever that format becomes.
    let sql = format!(
        "BEGIN; SELECT set_config('app.account_id', '{}', true)",
        account.as_str().replace('\'', "''")
    );
    AnsiTransactionManager::begin_transaction_sql(conn, &sql).inspect_err(|_| {
        // The server may have begun the transaction before the error: such
        // a connection must not go back to the pool.
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    })
}

/// Ends the transaction [`begin`] started: commits `outcome`'s success,
/// rolls back its failure (as Diesel's own `transaction` does).
pub fn finish<T, E>(conn: &mut PgConnection, outcome: Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match AnsiTransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

fn in_transaction(conn: &mut PgConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

/// Runs `work` in a transaction scoped to `account` (a savepoint when the
/// connection is already in a transaction).
pub fn in_tenant_transaction<T, E>(
    conn: &mut PgConnection,
    account: &AccountId,
    work: impl FnOnce(&mut TenantConn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    if in_transaction(conn) {
        return conn.transaction(|conn| {
            diesel::sql_query("SELECT set_config('app.account_id', $1, true)")
                .bind::<Text, _>(account.as_str())
                .execute(conn)?;
            work(&mut TenantConn { conn, account })
        });
    }
    begin(conn, account)?;
    let outcome = work(&mut TenantConn {
        conn: &mut *conn,
        account,
    });
    finish(conn, outcome)
}

/// A tenant as the request claims it: the account, and the key to prove it
/// with (checked in the request's transaction, see the module's comment).
#[derive(Debug, Clone)]
pub struct Tenant {
    account: AccountId,
    key: String,
    request: HttpRequest,
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
    /// why handlers validate their input inside it.
    pub async fn transaction<T, F>(&self, db: &Database, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut TenantConn<'_>) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let account = self.account.clone();
        let key = self.key.clone();
        let first_account = account.clone();
        let (authenticated, outcome) = db
            .run_after(
                move |conn| begin(conn, &first_account),
                move |conn| {
                    let mut authenticated = false;
                    let outcome = (|| {
                        let mut tenant = TenantConn {
                            conn: &mut *conn,
                            account: &account,
                        };
                        api_key::authenticate(&mut tenant, &key)?.ok_or_else(unauthorized)?;
                        authenticated = true;
                        work(&mut tenant)
                    })();
                    Ok::<_, ApiError>((authenticated, finish(conn, outcome)))
                },
            )
            .await?;
        if authenticated {
            self.request
                .extensions_mut()
                .insert(AuthenticatedAccount(self.account.clone()));
        }
        outcome
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
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claimed = claimed_account(req.headers()).and_then(|account| {
            let key = bearer_token(req.headers())
                .filter(|key| api_key::well_formed(key))
                .ok_or_else(unauthorized)?;
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
