//! Field-level validation that reports every problem of a request at once.

use serde::Serialize;
use utoipa::ToSchema;

/// One rejected field: `field` is a path into the request body
/// (`items[2].quantity`), `message` says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field error of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Collects the outcome of parsing each field:
///
/// ```text
/// let mut v = Validation::new();
/// let name = v.check("name", Name::parse(raw.name));
/// let email = v.check("email", Email::parse_optional(raw.email));
/// let (Some(name), Some(email)) = (name, email) else { return Err(v.into_errors()) };
/// ```
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
    prefix: String,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Field paths reported by this validation start with `prefix`
    /// (`items[3]`): for nested objects.
    pub fn nested(prefix: impl Into<String>) -> Self {
        Self {
            errors: Vec::new(),
            prefix: prefix.into(),
        }
    }

    fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    /// The value when `result` is Ok; otherwise records the error under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                let path = self.path(field);
                self.errors.push(FieldError::new(path, message));
                None
            }
        }
    }

    /// A PATCH field that may be left out but not set to null. The outer
    /// `Option` is `None` when the field is invalid; the inner one is
    /// `None` when it was left out.
    pub fn change<T, U>(
        &mut self,
        field: &str,
        value: Option<Option<T>>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<Option<U>> {
        match value {
            None => Some(None),
            Some(None) => {
                self.reject(field, "cannot be null");
                None
            }
            Some(Some(value)) => self.check(field, parse(value)).map(Some),
        }
    }

    /// A PATCH field that may be left out or set to null (clearing it).
    pub fn nullable_change<T, U>(
        &mut self,
        field: &str,
        value: Option<Option<T>>,
        parse: impl FnOnce(Option<T>) -> Result<Option<U>, String>,
    ) -> Option<Option<Option<U>>> {
        match value {
            None => Some(None),
            Some(value) => self.check(field, parse(value)).map(Some),
        }
    }

    /// Records an error that is not about a single parse (a rule between fields).
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path(field);
        self.errors.push(FieldError::new(path, message));
    }

    /// Takes over a nested validation's errors.
    pub fn absorb(&mut self, other: ValidationErrors) {
        self.errors.extend(other.0);
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }

    /// The errors collected; call when a field failed to parse.
    pub fn into_errors(self) -> ValidationErrors {
        debug_assert!(!self.errors.is_empty(), "into_errors without an error");
        ValidationErrors(self.errors)
    }
}
