//! Status list `lst` decoding (base64url + ZLIB with a decompression bound) and lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::status::{Bits, decode_lst};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(lst) = std::str::from_utf8(rest) else { return };
    let bits = match selector % 4 {
        0 => Bits::One,
        1 => Bits::Two,
        2 => Bits::Four,
        _ => Bits::Eight,
    };
    if let Ok(list) = decode_lst(lst, bits, 1 << 20) {
        let _ = list.get(u64::from(selector) * 7);
        let _ = list.get(list.len());
    }
});
