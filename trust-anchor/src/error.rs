//! Errors in the form of draft 48 §8.9 (`application/json` `{error, error_description}`):
//! service-kit's, the one form every Tessera service answers with.

pub use service_kit::ApiError;
pub use service_kit::error::{ErrorProfile, json_errors};
