//! The tests' fixed inputs: a complete, valid case body with its complainant's personal data
//! (which must never appear in the log in clear), and deadlines relative to now.

use serde_json::{json, Value};

/// A valid unified social credit code (test-vectors.md).
pub const VALID_CREDIT_CODE: &str = "91110000600037341L";
/// A valid resident identity number (the standard's own example).
pub const VALID_ID_NUMBER: &str = "11010519491231002X";
/// The complainant's name in [`valid_case_body`]; must never appear in the log in clear.
pub const COMPLAINANT_NAME: &str = "王秀英";
/// The complainant's phone in [`valid_case_body`]; must never appear in the log in clear.
pub const COMPLAINANT_PHONE: &str = "13912345678";

/// A complete case as in contract §4, with a valid credit code and resident ID.
pub fn valid_case_body() -> Value {
    json!({
        "title": "Missing dust masks at the grinding line",
        "category": "ppe_shortfall",
        "description": "Workers at the grinding line report that no dust masks were issued since March.",
        "source": "inspection",
        "employer": {"name": "Fucheng Building Materials Co., Ltd.", "credit_code": VALID_CREDIT_CODE},
        "region": "Fucheng District",
        "industry": "building_materials",
        "workers_affected": 40,
        "complainant": {"name": COMPLAINANT_NAME, "phone": COMPLAINANT_PHONE, "id_number": VALID_ID_NUMBER}
    })
}

/// A deadline `days` from now, RFC 3339.
pub fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}
