//! Around every request: the request id, the access log line, the request
//! metrics, and a last guarantee that every error response is problem+json.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use super::AppState;
use super::error::{ApiError, PROBLEM_JSON};
use super::tenant::AuthenticatedAccount;
use crate::metrics::UNMATCHED_ROUTE;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request's id, in its extensions: for the log and the audit trail.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client's X-Request-Id is kept when it is short and plain (it ends up in
/// logs); otherwise a new one is made.
fn acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // The id only needs to be unique, not secret: fall back to the clock.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(new_request_id, str::to_owned);
    let method = req.method().clone();
    let path = req.path().to_owned();
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let response = match next.call(req).await {
        Ok(response) => ensure_problem_json(response.map_into_boxed_body(), &path),
        // Errors that escaped every handler: rendered like ours.
        Err(error) => {
            let status = error.as_response_error().status_code();
            let api_error = ApiError::for_status(status, &path);
            return Err(actix_web::error::InternalError::from_response(
                error,
                api_error.error_response(),
            )
            .into());
        }
    };
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    // The causes of 500s and 503s are logged here, with the request id,
    // and never shown to the client.
    if let Some(cause) = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .and_then(ApiError::cause)
    {
        if response.status().is_server_error() && response.status().as_u16() != 503 {
            log::error!("request_id={request_id}: {cause}");
        } else {
            log::warn!("request_id={request_id}: {cause}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        let route = response.request().match_pattern();
        state.metrics.record_request(
            route.as_deref().unwrap_or(UNMATCHED_ROUTE),
            method.as_str(),
            response.status().as_u16(),
            seconds,
        );
    }
    let account = response
        .request()
        .extensions()
        .get::<AuthenticatedAccount>()
        .map_or_else(|| "-".to_owned(), |a| a.0.to_string());
    log::info!(
        target: "invoiced::access",
        "{method} {path} {status} {latency:.1}ms account={account} request_id={request_id}",
        status = response.status().as_u16(),
        latency = seconds * 1000.0,
    );
    Ok(response)
}

/// Replaces an error response that is not problem+json (one actix made by
/// itself) with the problem for its status.
fn ensure_problem_json(response: ServiceResponse<BoxBody>, path: &str) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let replacement = ApiError::for_status(status, path).error_response();
    let (request, original) = response.into_parts();
    let mut replacement = replacement;
    // Keep headers that matter to the client, such as Allow and Retry-After.
    for (name, value) in original.headers() {
        if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    *replacement.status_mut() = status;
    ServiceResponse::new(request, replacement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_kept_only_when_plain() {
        assert!(acceptable_request_id("3f2c-aa_01.b:c"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id("has space"));
        assert!(!acceptable_request_id("line\nbreak"));
        assert!(!acceptable_request_id(&"a".repeat(129)));
        assert_eq!(new_request_id().len(), 32);
    }
}
