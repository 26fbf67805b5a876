//! Extractors that turn request parts into domain values, answering
//! problem+json when they cannot: JSON bodies (with the path of the
//! offending field), path ids, query strings.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::{
    ApiKeyId, CreditNoteId, CustomerId, EventId, FieldError, InvoiceId, ItemId, PaymentId, RowId,
    ValidationErrors, WebhookEndpointId,
};

/// A JSON request body. Answers 415 unless the content type is JSON, 413
/// beyond REQUEST_BODY_LIMIT (the app's `PayloadConfig`), 400 for malformed
/// JSON, and 422 naming the field for a wrong type, a missing or an unknown
/// field.
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    /// The body as sent: what an Idempotency-Key's request is compared by.
    pub raw: Bytes,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            match content_type.as_deref() {
                Some(content_type) if is_json(content_type) => {}
                Some(other) => {
                    return Err(ApiError::UnsupportedMediaType {
                        detail: format!("The body must be application/json, not {other}"),
                    });
                }
                None => {
                    return Err(ApiError::UnsupportedMediaType {
                        detail: "The body must be application/json; set Content-Type".into(),
                    });
                }
            }
            let bytes = body.await.map_err(|error| {
                if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        detail: "The request body exceeds REQUEST_BODY_LIMIT".into(),
                    }
                } else {
                    ApiError::bad_request(format!("The request body could not be read: {error}"))
                }
            })?;
            // serde would read a JSON array into a struct, field by position.
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            if first != Some(&b'{') {
                return Err(
                    match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                        Ok(_) => ApiError::invalid("(body)", "must be a JSON object"),
                        Err(e) => ApiError::bad_request(format!(
                            "The request body is not valid JSON: {e}"
                        )),
                    },
                );
            }
            let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
            let value = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
            deserializer.end().map_err(|e| {
                ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
            })?;
            Ok(JsonBody { value, raw: bytes })
        })
    }
}

/// Turns a serde error into the field it concerns and what is wrong with it.
fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::bad_request(format!("The request body is not valid JSON: {inner}"));
    }
    let full = inner.to_string();
    // serde_json appends " at line L column C"; the field path says more.
    let message = full.split(" at line ").next().unwrap_or(&full);
    // serde reports a missing field at its parent: name the field itself.
    // (An unknown field's path already ends with its name.)
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(|name| {
            if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        });
    let (field, message) = if let Some(field) = missing {
        (field, "is required".to_owned())
    } else if message.starts_with("unknown field `") {
        (path, "is not a field of this resource".to_owned())
    } else if path == "." {
        ("(body)".to_owned(), message.to_owned())
    } else {
        (path, message.to_owned())
    };
    ApiError::Validation(ValidationErrors(vec![FieldError::new(field, message)]))
}

/// Path ids: a canonical positive integer in the named path segment, or 400.
macro_rules! path_id {
    ($type:ty, $param:literal) => {
        impl FromRequest for $type {
            type Error = ApiError;
            type Future = std::future::Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let segment = req.match_info().get($param).unwrap_or_default();
                std::future::ready(<$type>::parse_segment(segment).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "The {} id in the path must be a positive integer without leading zeros, not {segment:?}",
                        <$type as RowId>::NOUN
                    ))
                }))
            }
        }
    };
}

path_id!(CustomerId, "customer_id");
path_id!(InvoiceId, "invoice_id");
path_id!(ItemId, "item_id");
path_id!(PaymentId, "payment_id");
path_id!(ApiKeyId, "key_id");
path_id!(CreditNoteId, "credit_note_id");
path_id!(EventId, "event_id");
path_id!(WebhookEndpointId, "endpoint_id");

/// A query string, parsed into `T`; 400 naming the parameter when it
/// cannot be.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        std::future::ready(
            serde_path_to_error::deserialize(deserializer)
                .map(QueryParams)
                .map_err(|error| {
                    let parameter = error.path().to_string();
                    let message = error.into_inner().to_string();
                    if parameter == "." {
                        ApiError::bad_request(format!("The query string is invalid: {message}"))
                    } else {
                        ApiError::bad_request(format!("Query parameter {parameter}: {message}"))
                    }
                }),
        )
    }
}

/// For PATCH bodies: tells a field sent as `null` (`Some(None)`) from a
/// field left out (`None`, through `#[serde(default)]`).
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types_are_recognised() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }
}
