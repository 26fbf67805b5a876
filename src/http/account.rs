//! /v1/account: the account's own profile, the seller on its invoices; and
//! the same for an administrator at /admin/accounts/{account_id}.

use actix_web::{get, patch, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::admin::AdminAccess;
use super::error::{ApiError, Problem};
use super::extract::{JsonBody, present};
use super::tenant::Tenant;
use crate::accounts::{self, ProfileUpdate};
use crate::db::in_tenant_transaction;
use crate::domain::{
    AccountId, AddressInput, Currency, Email, EventType, Locale, Name, NumberFormat, NumberReset,
    OptionalText, TaxRounding, Validation, parse_bic, parse_iban, parse_party_name, parse_vat_id,
};
use crate::events;
use crate::models::account::ProfileChanges;
use crate::views::AccountView;

pub fn routes(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config
        .service(get_account)
        .service(update_account)
        .service(admin_get_account)
        .service(admin_update_account);
}

/// Changes to the profile: only the fields given change; null clears an
/// optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<Option<String>>,
    /// The seller's legal name, as invoices show it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub legal_name: Option<Option<String>>,
    /// Replaces the whole address; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AddressInput>)]
    pub address: Option<Option<AddressInput>>,
    /// A VAT id with its country prefix, e.g. DE123456789.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 30)]
    pub vat_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub tax_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub phone: Option<Option<String>>,
    /// Checked with mod 97.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 42)]
    pub iban: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 11)]
    pub bic: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Locale)]
    pub locale: Option<Option<Locale>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{3}$")]
    pub default_currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i32, minimum = 0, maximum = 365)]
    pub payment_terms_days: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = TaxRounding)]
    pub tax_rounding: Option<Option<TaxRounding>>,
    /// Tokens {YYYY}, {YY}, {MM} and exactly one {SEQ} or {SEQ:n}.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 5, max_length = 200)]
    pub invoice_number_format: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 5, max_length = 200)]
    pub credit_note_number_format: Option<Option<String>>,
    /// `yearly` restarts each series at 1 each year (its format must name the year).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = NumberReset)]
    pub number_reset: Option<Option<NumberReset>>,
    /// May be raised (continuing a series from elsewhere), never lowered to a used value.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1)]
    pub next_invoice_sequence: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1)]
    pub next_credit_note_sequence: Option<Option<i64>>,
    /// Every invoice issued must then make a valid EN 16931 e-invoice.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub require_einvoice: Option<Option<bool>>,
    /// An IANA time zone name, e.g. Europe/Berlin.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 64)]
    pub timezone: Option<Option<String>>,
}

fn optional_text<const MAX: usize>(value: Option<String>) -> Result<Option<String>, String> {
    OptionalText::<MAX>::parse(value.as_deref()).map(OptionalText::into_inner)
}

/// An optional identifier checked by `parse` when given.
fn optional_id(
    value: Option<String>,
    parse: fn(&str) -> Result<String, String>,
) -> Result<Option<String>, String> {
    match optional_text::<100>(value)? {
        Some(text) => parse(&text).map(Some),
        None => Ok(None),
    }
}

fn number_format(value: String) -> Result<String, String> {
    NumberFormat::parse(&value).map(|f| f.as_str().to_owned())
}

impl AccountPatch {
    fn parse(self) -> Result<ProfileUpdate, ApiError> {
        let mut v = Validation::new();
        let name = v.change("name", self.name, |n| {
            Name::<200>::parse(&n).map(Name::into_inner)
        });
        let legal_name = v.nullable_change("legal_name", self.legal_name, |n| {
            n.map(|n| parse_party_name(&n)).transpose()
        });
        let address = match self.address {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(input)) => input.parse_into(&mut v, "address").map(Some),
        };
        let vat_id = v.nullable_change("vat_id", self.vat_id, |id| optional_id(id, parse_vat_id));
        let tax_number = v.nullable_change("tax_number", self.tax_number, optional_text::<100>);
        let email = v.nullable_change("email", self.email, |e| {
            Email::parse(e.as_deref()).map(Email::into_inner)
        });
        let phone = v.nullable_change("phone", self.phone, optional_text::<100>);
        let iban = v.nullable_change("iban", self.iban, |id| optional_id(id, parse_iban));
        let bic = v.nullable_change("bic", self.bic, |id| optional_id(id, parse_bic));
        let locale = v.change("locale", self.locale, Ok::<_, String>);
        let default_currency = v.nullable_change("default_currency", self.default_currency, |c| {
            c.map(|c| Currency::parse(&c).map(Currency::into_inner))
                .transpose()
        });
        let payment_terms_days = v.change("payment_terms_days", self.payment_terms_days, |days| {
            if (0..=365).contains(&days) {
                Ok(days)
            } else {
                Err("must be 0 to 365 days".to_owned())
            }
        });
        let tax_rounding = v.change("tax_rounding", self.tax_rounding, Ok::<_, String>);
        let invoice_number_format = v.change(
            "invoice_number_format",
            self.invoice_number_format,
            number_format,
        );
        let credit_note_number_format = v.change(
            "credit_note_number_format",
            self.credit_note_number_format,
            number_format,
        );
        let number_reset = v.change("number_reset", self.number_reset, Ok::<_, String>);
        let sequence = |next: i64| {
            if (1..=999_999_999_999).contains(&next) {
                Ok(next)
            } else {
                Err("must be a sequence value from 1 to 999999999999".to_owned())
            }
        };
        let next_invoice_sequence = v.change(
            "next_invoice_sequence",
            self.next_invoice_sequence,
            sequence,
        );
        let next_credit_note_sequence = v.change(
            "next_credit_note_sequence",
            self.next_credit_note_sequence,
            sequence,
        );
        let require_einvoice = v.change("require_einvoice", self.require_einvoice, Ok::<_, String>);
        let timezone = v.change("timezone", self.timezone, |tz| {
            Name::<64>::parse(&tz).map(Name::into_inner)
        });
        let (
            Some(name),
            Some(legal_name),
            Some(address),
            Some(vat_id),
            Some(tax_number),
            Some(email),
            Some(phone),
            Some(iban),
            Some(bic),
            Some(locale),
            Some(default_currency),
            Some(payment_terms_days),
            Some(tax_rounding),
            Some(invoice_number_format),
            Some(credit_note_number_format),
            Some(number_reset),
            Some(next_invoice_sequence),
            Some(next_credit_note_sequence),
            Some(require_einvoice),
            Some(timezone),
            true,
        ) = (
            name,
            legal_name,
            address,
            vat_id,
            tax_number,
            email,
            phone,
            iban,
            bic,
            locale,
            default_currency,
            payment_terms_days,
            tax_rounding,
            invoice_number_format,
            credit_note_number_format,
            number_reset,
            next_invoice_sequence,
            next_credit_note_sequence,
            require_einvoice,
            timezone,
            v.is_ok(),
        )
        else {
            return Err(v.into_errors().into());
        };
        let mut changes = ProfileChanges {
            name,
            legal_name,
            vat_id,
            tax_number,
            email,
            phone,
            iban,
            bic,
            locale,
            default_currency,
            payment_terms_days,
            tax_rounding,
            invoice_number_format,
            credit_note_number_format,
            number_reset,
            require_einvoice,
            timezone,
            ..ProfileChanges::default()
        };
        if let Some(address) = address {
            changes.set_address(address);
        }
        Ok(ProfileUpdate {
            changes,
            next_invoice_sequence,
            next_credit_note_sequence,
        })
    }
}

/// The account's profile
#[utoipa::path(
    tag = "account",
    responses((status = 200, description = "The profile", body = AccountView))
)]
#[get("/v1/account")]
pub async fn get_account(
    tenant: Tenant,
    state: web::Data<AppState>,
) -> Result<web::Json<AccountView>, ApiError> {
    let view = tenant
        .transaction(&state.db, |conn| Ok(accounts::view(conn)?))
        .await?;
    Ok(web::Json(view))
}

/// Change the account's profile
#[utoipa::path(
    tag = "account",
    request_body = AccountPatch,
    responses(
        (status = 200, description = "The changed profile", body = AccountView),
        (status = 409, description = "A sequence lowered to a value already used", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/v1/account")]
pub async fn update_account(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: JsonBody<AccountPatch>,
) -> Result<web::Json<AccountView>, ApiError> {
    let patch = body.value;
    let view = tenant
        .transaction(&state.db, move |conn| {
            let update = patch.parse()?;
            let view = accounts::update(conn, &update)?;
            events::record(conn, EventType::AccountUpdated, &view)?;
            Ok(view)
        })
        .await?;
    Ok(web::Json(view))
}

/// An account's profile, as an administrator sees it
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The profile", body = AccountView),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/accounts/{account_id}")]
pub async fn admin_get_account(
    access: AdminAccess,
    account: AccountId,
) -> Result<web::Json<AccountView>, ApiError> {
    let target = account.clone();
    let view = access
        .run_api(move |conn| {
            if crate::models::account::find(conn, &target)?.is_none() {
                return Ok(None);
            }
            in_tenant_transaction(conn, &target, |conn| accounts::view(conn).map(Some))
                .map_err(ApiError::from)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("account", &account))?;
    Ok(web::Json(view))
}

/// Change an account's profile, as an administrator
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path, description = "The account's id")),
    request_body = AccountPatch,
    responses(
        (status = 200, description = "The changed profile", body = AccountView),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A sequence lowered to a value already used", body = Problem,
         content_type = "application/problem+json"),
    )
)]
#[patch("/admin/accounts/{account_id}")]
pub async fn admin_update_account(
    access: AdminAccess,
    account: AccountId,
    body: JsonBody<AccountPatch>,
) -> Result<web::Json<AccountView>, ApiError> {
    let update = body.value.parse()?;
    let target = account.clone();
    let view = access
        .run_api(move |conn| {
            if crate::models::account::find(conn, &target)?.is_none() {
                return Ok(None);
            }
            in_tenant_transaction(conn, &target, |conn| {
                let view = accounts::update(conn, &update)?;
                events::record(conn, EventType::AccountUpdated, &view)?;
                Ok::<_, ApiError>(Some(view))
            })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("account", &account))?;
    Ok(web::Json(view))
}
