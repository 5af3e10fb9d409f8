//! The DCQL queries of sessions, parsed once: a session stores its query as JSON text, and
//! both the `request_uri` (to put it in the request object) and the `response_uri` (to match
//! the `vp_token` against it) need it parsed. Sessions of one preset share one text, so the
//! parsed query is kept by its text, bounded (a full cache is emptied: raw queries of the
//! integrator API could each be different).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::oid4vp::dcql::{DcqlError, DcqlQuery};

/// At most this many distinct query texts are kept.
const MAX_QUERIES: usize = 64;

/// Parsed DCQL queries by their JSON text.
#[derive(Debug, Default)]
pub struct Queries {
    parsed: Mutex<HashMap<String, Arc<DcqlQuery>>>,
}

impl Queries {
    /// `text` parsed ([`DcqlQuery::parse`]), from the cache when it was parsed before.
    pub fn parse(&self, text: &str) -> Result<Arc<DcqlQuery>, DcqlError> {
        if let Some(q) = self.parsed.lock().unwrap_or_else(PoisonError::into_inner).get(text) {
            return Ok(q.clone());
        }
        let q = Arc::new(DcqlQuery::parse(text)?);
        let mut m = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_QUERIES {
            m.clear();
        }
        m.insert(text.to_owned(), q.clone());
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_once_and_bounded() {
        let qs = Queries::default();
        let text = crate::presets::preset("age_over_18").unwrap().to_value().to_string();
        let a = qs.parse(&text).unwrap();
        assert!(Arc::ptr_eq(&a, &qs.parse(&text).unwrap()));
        assert_eq!(*a, DcqlQuery::parse(&text).unwrap());
        assert!(qs.parse("{}").is_err());
        for i in 0..MAX_QUERIES * 2 {
            let t = format!(r#"{{"credentials":[{{"id":"c{i}","format":"dc+sd-jwt","meta":{{"vct_values":["urn:x"]}}}}]}}"#);
            qs.parse(&t).unwrap();
        }
        assert!(qs.parsed.lock().unwrap().len() <= MAX_QUERIES);
    }
}
