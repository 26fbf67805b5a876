//! The HTTP layer's error policy, in one place.
//!
//! Handlers and extractors fail with an [`ApiError`]; it is rendered here,
//! and only here, as `application/problem+json` (RFC 7807): a stable `type`,
//! a `title`, the `status`, a `detail` a person can act on, and for
//! validation failures `errors: [{field, message}]`.
//!
//! Lower layers map in through `From`: a pool timeout or a lost connection
//! is 503 with `Retry-After`; constraint violations the handlers did not
//! anticipate are 409 or 422; anything else is an opaque 500 whose cause is
//! logged, never shown.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::db::DbError;
use crate::documents::issued::DocumentError;
use crate::domain::{FieldError, ValidationErrors};
use crate::invoicing::InvoicingError;
use crate::numbering::NumberingError;
use crate::webhooks::WebhookError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, bad query string,
    /// bad path parameter).
    #[error("{detail}")]
    BadRequest { detail: String },
    /// 400: X-Account-Id is missing or malformed.
    #[error("{detail}")]
    InvalidAccountHeader { detail: String },
    /// 401: whatever failed — unknown account, missing, wrong or revoked
    /// key, another account's key — the answer is the same.
    #[error("unauthorized")]
    Unauthorized,
    /// 401: the admin token is missing or wrong.
    #[error("Authenticate with `Authorization: Bearer <ADMIN_TOKEN>`")]
    AdminUnauthorized,
    /// 404: no such resource in this account.
    #[error("{noun} {id} not found")]
    NotFound { noun: &'static str, id: String },
    /// 404: no such route.
    #[error("no route for {path}")]
    RouteNotFound { path: String },
    /// 405: the route exists, the method does not.
    #[error("{method} is not allowed here")]
    MethodNotAllowed {
        method: Method,
        allowed: Vec<Method>,
    },
    /// 409: the request conflicts with the resource's current state.
    #[error("{detail}")]
    Conflict { kind: &'static str, detail: String },
    /// 409 naming each field whose value is missing or in the way (an
    /// invoice that cannot be issued yet).
    #[error("{detail}")]
    ConflictFields {
        kind: &'static str,
        detail: String,
        errors: ValidationErrors,
    },
    /// 413
    #[error("{detail}")]
    PayloadTooLarge { detail: String },
    /// 415
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    /// 422: readable, but the values break the rules.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// 422: an Idempotency-Key reused for a different request.
    #[error("{detail}")]
    Unprocessable { kind: &'static str, detail: String },
    /// 503: the database is unreachable, too slow, or every connection is
    /// busy. `detail` is for the client and never names the database;
    /// `cause` (driver text, addresses) goes to the log only.
    #[error("{detail}")]
    Unavailable { detail: String, cause: String },
    /// Any other status actix produced by itself (408, 431, ...).
    #[error("{}", .status.canonical_reason().unwrap_or("Error"))]
    Status { status: StatusCode },
    /// 500: a bug or an unexpected failure; `cause` is logged, not shown.
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

/// The problem document, as the OpenAPI description shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:invoiced:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present on validation failures: one entry per rejected field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
        }
    }

    pub fn invalid_account_header(detail: &str) -> Self {
        Self::InvalidAccountHeader {
            detail: detail.to_owned(),
        }
    }

    pub fn not_found(noun: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            noun,
            id: id.to_string(),
        }
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            kind,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationErrors::single(field, message))
    }

    pub fn unavailable(detail: impl Into<String>, cause: impl Into<String>) -> Self {
        Self::Unavailable {
            detail: detail.into(),
            cause: cause.into(),
        }
    }

    /// What the log should say about this error beyond its answer: the
    /// cause of a 500 or a 503 (never shown to the client).
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::Internal { cause } | Self::Unavailable { cause, .. } => Some(cause),
            _ => None,
        }
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Internal {
            cause: cause.into(),
        }
    }

    /// The problem's `type` slug and `title`.
    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => ("malformed-request", "Malformed request"),
            Self::InvalidAccountHeader { .. } => (
                "invalid-account-header",
                "Missing or malformed account header",
            ),
            Self::Unauthorized | Self::AdminUnauthorized => ("unauthorized", "Unauthorized"),
            Self::NotFound { .. } => ("not-found", "Not found"),
            Self::RouteNotFound { .. } => ("route-not-found", "No such route"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Conflict { kind, .. } | Self::ConflictFields { kind, .. } => (kind, "Conflict"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Request body too large"),
            Self::UnsupportedMediaType { .. } => {
                ("unsupported-media-type", "Unsupported media type")
            }
            Self::Validation(_) => ("validation-failed", "Validation failed"),
            Self::Unprocessable { kind, .. } => (kind, "Unprocessable request"),
            Self::Unavailable { .. } => ("service-unavailable", "Service unavailable"),
            Self::Status { .. } => ("http-error", "HTTP error"),
            Self::Internal { .. } => ("internal-error", "Internal server error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Unauthorized => {
                "Authenticate with the X-Account-Id header and `Authorization: Bearer <api key>`: \
                                   the account or the key was not recognised."
                    .into()
            }
            Self::Validation(errors) => format!(
                "The request has {} invalid field(s): {errors}.",
                errors.0.len()
            ),
            Self::MethodNotAllowed { method, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                format!(
                    "{method} is not allowed here; allowed: {}.",
                    allowed.join(", ")
                )
            }
            Self::Internal { .. } => {
                "The server failed to complete the request. Quote the response's \
                                      X-Request-Id when reporting it."
                    .into()
            }
            other => {
                let mut detail = other.to_string();
                if let Some(first) = detail.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                if !detail.ends_with('.') {
                    detail.push('.');
                }
                detail
            }
        }
    }

    pub fn problem(&self) -> Problem {
        let (kind, title) = self.kind_and_title();
        Problem {
            kind: format!("urn:invoiced:problem:{kind}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) | Self::ConflictFields { errors, .. } => {
                    Some(errors.0.clone())
                }
                _ => None,
            },
        }
    }

    /// The generic problem for a status actix produced without our help.
    pub fn for_status(status: StatusCode, path: &str) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::bad_request("The request could not be read"),
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::NOT_FOUND => Self::RouteNotFound {
                path: path.to_owned(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge {
                detail: "The request body is too large".into(),
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType {
                detail: "Send the body as application/json".into(),
            },
            StatusCode::SERVICE_UNAVAILABLE => {
                Self::unavailable("The service is temporarily unavailable", "(from actix)")
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                Self::internal("an error response without a cause")
            }
            status => Self::Status { status },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } | Self::InvalidAccountHeader { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::ConflictFields { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Status { status } => *status,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The cause is logged by the request middleware, with the request id.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::Unauthorized | Self::AdminUnauthorized => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::MethodNotAllowed { allowed, .. } => {
                let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            Self::Unavailable { .. } => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        response.body(body)
    }
}

impl From<InvoicingError> for ApiError {
    fn from(error: InvoicingError) -> Self {
        let detail = error.to_string();
        match error {
            InvoicingError::InvoiceNotFound(id) => Self::not_found("invoice", id),
            InvoicingError::ItemNotFound { item, .. } => Self::not_found("item", item),
            InvoicingError::PaymentNotFound(id) => Self::not_found("payment", id),
            InvoicingError::CustomerNotFound(_) => Self::invalid("customer_id", detail),
            InvoicingError::InvalidPosition { .. } => Self::invalid("position", detail),
            InvoicingError::LineTooLarge => Self::invalid("unit_price", detail),
            InvoicingError::DueBeforeIssue => Self::invalid("due_date", detail),
            InvoicingError::NumberTaken(_) => Self::conflict("invoice-number-taken", detail),
            InvoicingError::NotDraft { .. } => Self::conflict("invoice-not-draft", detail),
            InvoicingError::Transition { .. } => Self::conflict("invalid-transition", detail),
            InvoicingError::NoItems(_) => Self::conflict("invoice-has-no-items", detail),
            InvoicingError::PartlyPaid { .. } => Self::conflict("invoice-partly-paid", detail),
            InvoicingError::Overpayment { .. } => Self::conflict("payment-exceeds-balance", detail),
            InvoicingError::TooManyItems(_) => Self::conflict("too-many-items", detail),
            InvoicingError::CreditNoteNotFound(id) => Self::not_found("credit note", id),
            InvoicingError::Incomplete { id, missing } => Self::ConflictFields {
                kind: "invoice-incomplete",
                detail: format!(
                    "Invoice {id} cannot be issued yet: {} field(s) missing or in the way; see errors",
                    missing.len()
                ),
                errors: ValidationErrors(
                    missing
                        .into_iter()
                        .map(|m| FieldError::new(m.field, m.message))
                        .collect(),
                ),
            },
            InvoicingError::TaxRule { field, message } => Self::invalid(&field, message),
            InvoicingError::CreditExceedsInvoice { .. } => {
                Self::conflict("credit-exceeds-invoice", detail)
            }
            InvoicingError::CreditExceedsItem { field, message } => Self::ConflictFields {
                kind: "credit-exceeds-item",
                detail,
                errors: ValidationErrors::single(field, message),
            },
            InvoicingError::NothingToCredit(_) => Self::conflict("nothing-to-credit", detail),
            InvoicingError::Numbering(error) => error.into(),
            InvoicingError::Documents(error) => error.into(),
            InvoicingError::Database(error) => error.into(),
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(error: DocumentError) -> Self {
        let detail = error.to_string();
        match error {
            DocumentError::Draft(_) => Self::conflict("draft-has-no-einvoice", detail),
            DocumentError::NotAnEInvoice { what, missing } => Self::ConflictFields {
                kind: "not-an-einvoice",
                detail: format!(
                    "The data of {what} cannot make a valid EN 16931 e-invoice: {} field(s) missing \
                     or in the way; see errors (its PDF is still available)",
                    missing.len()
                ),
                errors: ValidationErrors(
                    missing
                        .into_iter()
                        .map(|m| FieldError::new(m.field, m.message))
                        .collect(),
                ),
            },
            DocumentError::Model(error) => Self::internal(error.to_string()),
            DocumentError::Database(error) => error.into(),
        }
    }
}

impl From<NumberingError> for ApiError {
    fn from(error: NumberingError) -> Self {
        let detail = error.to_string();
        match error {
            NumberingError::AlreadyUsed { series, .. } => Self::ConflictFields {
                kind: "sequence-already-used",
                detail: detail.clone(),
                errors: ValidationErrors::single(
                    match series {
                        "invoice" => "next_invoice_sequence",
                        _ => "next_credit_note_sequence",
                    },
                    detail,
                ),
            },
            NumberingError::BadFormat { .. } => Self::internal(detail),
            NumberingError::Database(error) => error.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let detail = error.to_string();
        match error {
            AccountError::Numbering(error) => error.into(),
            AccountError::UnknownTimezone(_) => Self::invalid("timezone", detail),
            AccountError::Inconsistent { field, message } => Self::invalid(field, message),
            AccountError::Database(error) => error.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        let detail = error.to_string();
        match error {
            WebhookError::TooManyEndpoints => Self::conflict("too-many-webhook-endpoints", detail),
            WebhookError::EndpointNotFound(id) => Self::not_found("webhook endpoint", id),
            WebhookError::EventNotFound(id) => Self::not_found("event", id),
            WebhookError::NoSubscriber { .. } => Self::conflict("no-webhook-subscriber", detail),
            WebhookError::Database(error) => error.into(),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

const RETRY_SHORTLY: &str = "The database is unavailable; retry after Retry-After seconds";

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        let cause = error.to_string();
        match error {
            DbError::Busy(_) => Self::unavailable(
                "Every database connection stayed busy; retry after Retry-After seconds",
                cause,
            ),
            DbError::Deadline(_) => Self::unavailable(
                "The database did not answer in time; retry after Retry-After seconds",
                cause,
            ),
            DbError::Unavailable(_) | DbError::Reconnect(_) => {
                Self::unavailable(RETRY_SHORTLY, cause)
            }
            DbError::TaskLost => Self::internal(cause),
        }
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        if crate::db::is_timeout(&error) {
            return Self::unavailable(
                "The database took too long, or the data is locked by another request; \
                 retry after Retry-After seconds",
                error.to_string(),
            );
        }
        match error {
            DieselError::DatabaseError(kind, info) => {
                let constraint = crate::db::constraint_name(info.as_ref())
                    .unwrap_or("a constraint")
                    .to_owned();
                match kind {
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand => Self::unavailable(
                        "The database connection was lost; retry after Retry-After seconds",
                        info.message(),
                    ),
                    DatabaseErrorKind::SerializationFailure => Self::unavailable(
                        "The request collided with a concurrent one; retry it",
                        info.message(),
                    ),
                    DatabaseErrorKind::UniqueViolation => Self::conflict(
                        "conflict",
                        format!("The request conflicts with existing data ({constraint})"),
                    ),
                    DatabaseErrorKind::ForeignKeyViolation
                    | DatabaseErrorKind::RestrictViolation => Self::conflict(
                        "conflict",
                        format!("The request conflicts with related data ({constraint})"),
                    ),
                    // The database's last wall (see the issued_invoices_are_fixed
                    // migration): the service checks first, so reaching it is a
                    // race or a bug, but the answer is still the conflict it is.
                    DatabaseErrorKind::CheckViolation
                        if matches!(
                            constraint.as_str(),
                            "invoices_issued_are_fixed" | "invoices_status_follows_money"
                        ) =>
                    {
                        Self::conflict("invoice-not-draft", info.message().to_owned())
                    }
                    DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                        let field = info.column_name().unwrap_or(&constraint).to_owned();
                        Self::invalid(&field, format!("violates {constraint}"))
                    }
                    _ => Self::internal(format!("database error: {}", info.message())),
                }
            }
            DieselError::NotFound => Self::internal("a query found no row where one was expected"),
            other => Self::internal(format!("database error: {other}")),
        }
    }
}
