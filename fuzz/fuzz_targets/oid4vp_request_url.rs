//! Authorization Request URLs, client ids and `request_uri` POST bodies on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::oid4vp::{AuthorizationRequestUrl, ClientId, RequestUriPost};

fuzz_target!(|data: &[u8]| {
    let _ = RequestUriPost::parse_form(data);
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(u) = AuthorizationRequestUrl::parse(s) {
        // What we parsed we print back, and it parses to the same value.
        assert_eq!(AuthorizationRequestUrl::parse(&u.to_url()).ok(), Some(u));
    }
    let _ = ClientId::parse(s);
});
