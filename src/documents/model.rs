//! What a document says, independent of how it is rendered.

use serde::{Deserialize, Serialize};

use crate::domain::{Address, Locale, parse_vat_id};
use crate::models::account::Profile;
use crate::models::customer::Customer;

/// The seller, as an issued document shows it: the account's profile at
/// the moment of issue (kept with the invoice, see the tax_categories
/// migration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerParty {
    pub name: String,
    pub legal_name: Option<String>,
    pub address: Option<Address>,
    pub vat_id: Option<String>,
    pub tax_number: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
}

impl From<&Profile> for SellerParty {
    fn from(profile: &Profile) -> Self {
        Self {
            name: profile.name.clone(),
            legal_name: profile.legal_name.clone(),
            address: profile.address(),
            vat_id: profile.vat_id.clone(),
            tax_number: profile.tax_number.clone(),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            iban: profile.iban.clone(),
            bic: profile.bic.clone(),
        }
    }
}

/// The buyer, as an issued document shows it: the customer at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerParty {
    pub name: String,
    pub address: Option<Address>,
    /// The customer's tax or VAT id, as it was given.
    pub tax_id: Option<String>,
    pub buyer_reference: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<Locale>,
}

impl BuyerParty {
    /// The buyer's VAT id (BT-48), when its tax id has a VAT id's shape.
    pub fn vat_id(&self) -> Option<String> {
        self.tax_id.as_deref().and_then(|id| parse_vat_id(id).ok())
    }
}

impl From<&Customer> for BuyerParty {
    fn from(customer: &Customer) -> Self {
        Self {
            name: customer.name.clone(),
            address: customer.billing_address(),
            tax_id: customer.tax_id.clone(),
            buyer_reference: customer.buyer_reference.clone(),
            email: customer.email.clone(),
            phone: customer.phone.clone(),
            locale: customer.locale,
        }
    }
}
