//! /admin: accounts and API keys, behind `Authorization: Bearer <ADMIN_TOKEN>`.
//! Without ADMIN_TOKEN, every /admin route answers 404 as if it did not exist.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, QueryParams};
use super::pagination::{List, page_request};
use crate::admin;
use diesel::{Connection, PgConnection};

use super::tenant::bearer_token;
use crate::db::{Database, DbError};
use crate::domain::{AccountId, ApiKeyId, Name, Validation};
use crate::models::PageRequest;
use crate::models::account::Account;
use crate::models::api_key::{ApiKey, IssuedKey};

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(create_account)
        .service(list_accounts)
        .service(create_api_key)
        .service(list_api_keys)
        .service(revoke_api_key);
}

/// Proof that the request carries the admin token, with the admin pool.
pub struct AdminAccess {
    db: Database,
}

impl AdminAccess {
    /// Runs `work` as the owner in one transaction, rolled back if the
    /// request's deadline passed meanwhile (the client was answered 503).
    async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run_api(move |conn| work(conn).map_err(ApiError::from))
            .await
    }

    /// [`AdminAccess::run`], for work that answers the API's own errors.
    pub(super) async fn run_api<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.db
            .run(move |conn, deadline| {
                conn.transaction(|conn| {
                    let value = work(conn)?;
                    if deadline.passed() {
                        return Err(DbError::Deadline(std::time::Duration::ZERO).into());
                    }
                    Ok(value)
                })
            })
            .await
    }
}

impl FromRequest for AdminAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::internal("the application state is missing")));
        };
        let Some(admin) = &state.admin else {
            return ready(Err(ApiError::RouteNotFound {
                path: req.path().to_owned(),
            }));
        };
        let presented = bearer_token(req.headers()).unwrap_or_default();
        if bool::from(presented.as_bytes().ct_eq(admin.token.as_bytes())) {
            ready(Ok(AdminAccess {
                db: admin.db.clone(),
            }))
        } else {
            ready(Err(ApiError::AdminUnauthorized))
        }
    }
}

impl FromRequest for AccountId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let segment = req.match_info().get("account_id").unwrap_or_default();
        ready(
            AccountId::parse(segment).map_err(|rule| {
                ApiError::bad_request(format!("The account id in the path {rule}"))
            }),
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(row: Account) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

/// An API key. `key` is present only in the answer that created it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's first characters: not secret, for telling keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key itself, shown this once: send it as `Authorization: Bearer <key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(row: ApiKey) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            key: None,
        }
    }
}

impl From<IssuedKey> for ApiKeyView {
    fn from(issued: IssuedKey) -> Self {
        Self {
            key: Some(issued.secret),
            ..issued.record.into()
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountCreate {
    /// 1–100 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCreated {
    pub account: AccountView,
    /// The account's first key, with `key` shown this once.
    pub api_key: ApiKeyView,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// What the key is for, e.g. "billing server".
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// A page of accounts; the cursor is an account id.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<AccountView>,
    pub has_more: bool,
    pub next_after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAccountsQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return accounts whose id sorts after this one.
    pub after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListKeysQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Return keys with an id greater than this.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

fn no_account(id: &AccountId) -> ApiError {
    ApiError::not_found("account", id)
}

/// Create an account and its first API key
#[utoipa::path(
    tag = "admin",
    request_body = AccountCreate,
    responses(
        (status = 201, description = "The account and its first key", body = AccountCreated),
        (status = 409, description = "The id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/accounts")]
pub async fn create_account(
    access: AdminAccess,
    body: JsonBody<AccountCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Validation::new();
    let id = v.check("id", AccountId::parse(&body.value.id));
    let name = v.check("name", Name::<200>::parse(&body.value.name));
    let (Some(id), Some(name)) = (id, name) else {
        return Err(v.into_errors().into());
    };
    let wanted = id.clone();
    let created = access
        .run(move |conn| admin::create_account(conn, &wanted, &name))
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "account-exists",
                format!("An account with id {id} already exists"),
            )
        })?;
    let (account, key) = created;
    Ok(HttpResponse::Created().json(AccountCreated {
        account: account.into(),
        api_key: key.into(),
    }))
}

/// List the accounts, in id order
#[utoipa::path(
    tag = "admin",
    params(ListAccountsQuery),
    responses((status = 200, description = "A page of accounts", body = AccountList))
)]
#[get("/admin/accounts")]
pub async fn list_accounts(
    access: AdminAccess,
    query: QueryParams<ListAccountsQuery>,
) -> Result<web::Json<AccountList>, ApiError> {
    let query = query.0;
    let limit = page_request(query.limit, None)?.limit;
    let after = query
        .after
        .map(|after| {
            AccountId::parse(&after).map_err(|rule| ApiError::bad_request(format!("after {rule}")))
        })
        .transpose()?;
    let page = PageRequest { limit, after };
    let page = access
        .run(move |conn| admin::list_accounts(conn, &page))
        .await?;
    let next_after = if page.has_more {
        page.rows.last().map(|a| a.id.clone())
    } else {
        None
    };
    Ok(web::Json(AccountList {
        has_more: page.has_more,
        next_after,
        data: page.rows.into_iter().map(AccountView::from).collect(),
    }))
}

/// Create an API key for an account
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path, description = "The account's id")),
    request_body = ApiKeyCreate,
    responses(
        (status = 201, description = "The new key, with `key` shown this once", body = ApiKeyView),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/accounts/{account_id}/api-keys")]
pub async fn create_api_key(
    access: AdminAccess,
    account: AccountId,
    body: JsonBody<ApiKeyCreate>,
) -> Result<HttpResponse, ApiError> {
    let name = Name::<200>::parse(&body.value.name)
        .map_err(|message| ApiError::invalid("name", message))?;
    let target = account.clone();
    let key = access
        .run(move |conn| admin::create_key(conn, &target, &name))
        .await?
        .ok_or_else(|| no_account(&account))?;
    Ok(HttpResponse::Created().json(ApiKeyView::from(key)))
}

/// List an account's API keys (never the keys themselves)
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path, description = "The account's id"), ListKeysQuery),
    responses(
        (status = 200, description = "A page of keys", body = List<ApiKeyView>),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/accounts/{account_id}/api-keys")]
pub async fn list_api_keys(
    access: AdminAccess,
    account: AccountId,
    query: QueryParams<ListKeysQuery>,
) -> Result<web::Json<List<ApiKeyView>>, ApiError> {
    let page = page_request(query.0.limit, query.0.after)?;
    let target = account.clone();
    let page = access
        .run(move |conn| admin::list_keys(conn, &target, &page))
        .await?
        .ok_or_else(|| no_account(&account))?;
    Ok(web::Json(List::from_page(page, |k| k.id, ApiKeyView::from)))
}

/// Revoke an API key; it stops working at once
#[utoipa::path(
    tag = "admin",
    params(
        ("account_id" = String, Path, description = "The account's id"),
        ("key_id" = i64, Path, minimum = 1, description = "The key's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key in this account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/admin/accounts/{account_id}/api-keys/{key_id}")]
pub async fn revoke_api_key(
    access: AdminAccess,
    account: AccountId,
    key: ApiKeyId,
) -> Result<HttpResponse, ApiError> {
    let target = account.clone();
    access
        .run(move |conn| admin::revoke_key(conn, &target, key))
        .await?
        .ok_or_else(|| ApiError::not_found("API key", key))?;
    Ok(HttpResponse::NoContent().finish())
}
