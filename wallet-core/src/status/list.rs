//! The status bit array: `bits` per credential, LSB first within each byte
//! (draft-ietf-oauth-status-list §4.1), ZLIB-compressed (RFC 1950) and base64url-encoded as
//! `lst` (§4.2).

use std::io::Write as _;

use flate2::{Decompress, FlushDecompress, Status};

use super::StatusError;
use crate::jose::b64;

/// The default bound on a decompressed list: 16 MiB (134 million 1-bit statuses).
///
/// ZLIB reaches ~1000:1 on a list of zeros, so a 1 MiB token (the JWS bound) could otherwise
/// inflate to a gigabyte; the bound is checked while inflating, before memory is committed.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 16 << 20;

/// Bits per status: the `bits` claim, one of 1, 2, 4, 8 (draft-ietf-oauth-status-list §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bits {
    /// 1 bit: VALID/INVALID.
    One,
    /// 2 bits: adds SUSPENDED and UPDATE.
    Two,
    /// 4 bits: needed for `ATTRIBUTE_UPDATE` (0x0F, IT-Wallet 1.4).
    Four,
    /// 8 bits.
    Eight,
}

impl Bits {
    /// From the `bits` claim; anything but 1, 2, 4, 8 is [`StatusError::InvalidBits`].
    pub fn from_u64(n: u64) -> Result<Self, StatusError> {
        match n {
            1 => Ok(Self::One),
            2 => Ok(Self::Two),
            4 => Ok(Self::Four),
            8 => Ok(Self::Eight),
            other => Err(StatusError::InvalidBits(other)),
        }
    }

    /// The number of bits.
    pub fn get(self) -> u8 {
        match self {
            Self::One => 1,
            Self::Two => 2,
            Self::Four => 4,
            Self::Eight => 8,
        }
    }

    fn per_byte(self) -> u64 {
        u64::from(8 / self.get())
    }

    fn mask(self) -> u8 {
        match self {
            Self::One => 0x01,
            Self::Two => 0x03,
            Self::Four => 0x0F,
            Self::Eight => 0xFF,
        }
    }
}

impl TryFrom<u64> for Bits {
    type Error = StatusError;

    fn try_from(n: u64) -> Result<Self, StatusError> {
        Self::from_u64(n)
    }
}

/// `ATTRIBUTE_UPDATE` as IT-Wallet 1.3 and 1.4.0 encode it (0x0B; 1.4.x-post moved it to 0x0F).
pub const ATTRIBUTE_UPDATE_1_4_0: u8 = 0x0B;

/// A credential's status (draft-ietf-oauth-status-list §7.1, IT-Wallet 1.4 §6).
///
/// Equality and hashing go by the numeric value, so `Other(0x02) == Suspended`; values read
/// from a list are always in the named form ([`Self::from_u8`]).
#[derive(Debug, Clone, Copy)]
pub enum StatusValue {
    /// 0x00: valid.
    Valid,
    /// 0x01: revoked, permanently.
    Invalid,
    /// 0x02: suspended, may become valid again.
    Suspended,
    /// 0x03: metadata changed; the wallet should ask for re-issuance.
    Update,
    /// 0x0F: attributes changed; re-issuance with the user's consent. IT-Wallet moved it to
    /// 0x0F in Feb 2026 (a breaking change), so it needs `bits` ≥ 4.
    AttributeUpdate,
    /// Any other value (application-specific, draft §7.1).
    Other(u8),
}

impl PartialEq for StatusValue {
    fn eq(&self, other: &Self) -> bool {
        self.to_u8() == other.to_u8()
    }
}

impl Eq for StatusValue {}

impl std::hash::Hash for StatusValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_u8().hash(state);
    }
}

impl StatusValue {
    /// The numeric value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Valid => 0x00,
            Self::Invalid => 0x01,
            Self::Suspended => 0x02,
            Self::Update => 0x03,
            Self::AttributeUpdate => 0x0F,
            Self::Other(v) => v,
        }
    }

    /// From the numeric value; the named values come out named.
    pub fn from_u8(v: u8) -> Self {
        match v {
            0x00 => Self::Valid,
            0x01 => Self::Invalid,
            0x02 => Self::Suspended,
            0x03 => Self::Update,
            0x0F => Self::AttributeUpdate,
            other => Self::Other(other),
        }
    }

    /// The name IT-Wallet uses. 0x0B is also `ATTRIBUTE_UPDATE`: the code of IT-Wallet 1.3 and
    /// 1.4.0 (versions note, "Status values"), which issuers of both profiles still emit by
    /// default; 0x0F is the 1.4.x-post code.
    pub fn name(self) -> &'static str {
        match Self::from_u8(self.to_u8()) {
            Self::Valid => "VALID",
            Self::Invalid => "INVALID",
            Self::Suspended => "SUSPENDED",
            Self::Update => "UPDATE",
            Self::AttributeUpdate | Self::Other(ATTRIBUTE_UPDATE_1_4_0) => "ATTRIBUTE_UPDATE",
            Self::Other(_) => "APPLICATION_SPECIFIC",
        }
    }

    /// Whether the value fits in `bits` (0x0F needs 4).
    pub fn fits(self, bits: Bits) -> bool {
        self.to_u8() & !bits.mask() == 0
    }
}

/// The decoded status array: whole bytes, so it holds a multiple of `8 / bits` statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Bits,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of at least `size` statuses, all VALID (rounded up to whole bytes, so
    /// [`Self::len`] may exceed `size` by up to `8 / bits - 1`).
    ///
    /// Issuer-side: `size` is the caller's, not untrusted input. On a platform where
    /// `size / (8 / bits)` bytes exceed `usize`, the list is empty.
    pub fn new(bits: Bits, size: u64) -> Self {
        let len = size.div_ceil(bits.per_byte());
        Self { bits, bytes: vec![0; usize::try_from(len).unwrap_or(0)] }
    }

    /// A list over raw bytes (already LSB-first packed).
    pub fn from_bytes(bits: Bits, bytes: Vec<u8>) -> Self {
        Self { bits, bytes }
    }

    /// Bits per status.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// How many statuses the list holds (bytes × `8 / bits`).
    pub fn len(&self) -> u64 {
        u64::try_from(self.bytes.len()).unwrap_or(u64::MAX).saturating_mul(self.bits.per_byte())
    }

    /// Whether the list holds no status.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Byte index and shift of status `idx`: LSB first, so status 0 is in the lowest `bits`
    /// of byte 0 (draft §4.1).
    fn locate(&self, idx: u64) -> Result<(usize, u8), StatusError> {
        let out = || StatusError::IndexOutOfBounds { idx, len: self.len() };
        if idx >= self.len() {
            return Err(out());
        }
        let byte = usize::try_from(idx / self.bits.per_byte()).map_err(|_| out())?;
        let shift = u8::try_from((idx % self.bits.per_byte()) * u64::from(self.bits.get())).map_err(|_| out())?;
        Ok((byte, shift))
    }

    /// The status at `idx`; [`StatusError::IndexOutOfBounds`] past the end (draft §8.3 step
    /// "the index is within the list", IT-Wallet §6 step 5).
    pub fn get(&self, idx: u64) -> Result<StatusValue, StatusError> {
        let (byte, shift) = self.locate(idx)?;
        let b = self.bytes.get(byte).ok_or(StatusError::IndexOutOfBounds { idx, len: self.len() })?;
        Ok(StatusValue::from_u8((b >> shift) & self.bits.mask()))
    }

    /// Sets the status at `idx`; refuses a value that does not fit in `bits`
    /// ([`StatusError::ValueTooLarge`], e.g. `ATTRIBUTE_UPDATE` in a 1- or 2-bit list) and an
    /// index past the end.
    pub fn set(&mut self, idx: u64, value: StatusValue) -> Result<(), StatusError> {
        if !value.fits(self.bits) {
            return Err(StatusError::ValueTooLarge { value: value.to_u8(), bits: self.bits.get() });
        }
        let (byte, shift) = self.locate(idx)?;
        let mask = self.bits.mask() << shift;
        let len = self.len();
        let b = self.bytes.get_mut(byte).ok_or(StatusError::IndexOutOfBounds { idx, len })?;
        *b = (*b & !mask) | (value.to_u8() << shift);
        Ok(())
    }

    /// `lst`: ZLIB (RFC 1950) at the best compression, base64url without padding (draft §4.2).
    pub fn to_lst(&self) -> String {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let compressed = z.write_all(&self.bytes).and_then(|()| z.finish()).unwrap_or_default();
        b64::encode(compressed)
    }
}

/// Decodes `lst` (base64url of ZLIB data) into a list, refusing more than `limit` bytes once
/// decompressed ([`StatusError::TooLarge`]: the decompression-bomb bound, checked while
/// inflating). The ZLIB stream must be complete (end of stream reached, Adler-32 checked) and
/// nothing may follow it; otherwise [`StatusError::BadCompression`]. Never panics, whatever
/// the input (fuzz target `status_list_decode`).
pub fn decode_lst(lst: &str, bits: Bits, limit: usize) -> Result<StatusList, StatusError> {
    let compressed = b64::decode(lst).map_err(|_| StatusError::BadBase64)?;
    let bytes = inflate_bounded(&compressed, limit)?;
    Ok(StatusList { bits, bytes })
}

/// Inflates a whole ZLIB stream into at most `limit` bytes.
///
/// `flate2::read::ZlibDecoder` stops at the end of the stream and leaves whatever follows
/// unread, so trailing bytes would pass unnoticed. Driving [`Decompress`] by hand states each
/// rule explicitly: the stream must reach `StreamEnd` (a truncated one is refused, not read as
/// a shorter list), consume all input, and stay within `limit`; growing the buffer ourselves
/// keeps memory within about `limit + 1` bytes.
fn inflate_bounded(compressed: &[u8], limit: usize) -> Result<Vec<u8>, StatusError> {
    const STEP: usize = 64 << 10;
    let too_large = StatusError::TooLarge { limit };
    let cap = limit.saturating_add(1);
    let mut z = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() > limit {
            return Err(too_large);
        }
        if out.len() == out.capacity() {
            // Double, at least STEP, never past limit + 1 (one byte over proves "too large").
            let want = out.capacity().max(STEP).min(cap.saturating_sub(out.len()));
            out.try_reserve_exact(want).map_err(|_| too_large.clone())?;
        }
        let consumed = usize::try_from(z.total_in()).map_err(|_| StatusError::BadCompression)?;
        let input = compressed.get(consumed..).ok_or(StatusError::BadCompression)?;
        let (in_before, out_before) = (z.total_in(), out.len());
        let status = z.decompress_vec(input, &mut out, FlushDecompress::None).map_err(|_| StatusError::BadCompression)?;
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                // Output room was available, so no progress means the input ran out: truncated.
                if z.total_in() == in_before && out.len() == out_before {
                    return Err(StatusError::BadCompression);
                }
            }
        }
    }
    if out.len() > limit {
        return Err(too_large);
    }
    // Trailing bytes after the stream are not part of any list.
    if usize::try_from(z.total_in()).ok() != Some(compressed.len()) {
        return Err(StatusError::BadCompression);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector file of `wallet-core/tests/vectors/status/` (see its README).
    struct Vector {
        bits: Bits,
        statuses: Vec<u8>,
        bytes: Vec<u8>,
        json: serde_json::Value,
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn vector(text: &str) -> Vector {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        Vector {
            bits: Bits::from_u64(json["bits"].as_u64().unwrap()).unwrap(),
            statuses: json["statuses"].as_array().unwrap().iter().map(|v| u8::try_from(v.as_u64().unwrap()).unwrap()).collect(),
            bytes: hex(json["bytes_hex"].as_str().unwrap()),
            json,
        }
    }

    fn build(bits: Bits, statuses: &[u8]) -> StatusList {
        let mut list = StatusList::new(bits, statuses.len() as u64);
        for (i, v) in statuses.iter().enumerate() {
            list.set(i as u64, StatusValue::from_u8(*v)).unwrap();
        }
        list
    }

    /// Decodes the draft's published `lst`, reads every status, and packs the statuses back
    /// to the same bytes.
    fn check_draft_vector(text: &str) {
        let v = vector(text);
        let lst = v.json["lst"].as_str().unwrap();
        let list = decode_lst(lst, v.bits, DEFAULT_MAX_DECOMPRESSED).unwrap();
        assert_eq!(list.as_bytes(), v.bytes.as_slice());
        for (i, e) in v.statuses.iter().enumerate() {
            assert_eq!(list.get(i as u64).unwrap().to_u8(), *e, "index {i}");
        }
        let built = build(v.bits, &v.statuses);
        assert_eq!(built, list);
        // Encoder-specific (flate2 best == the draft authors' zlib -9 here), see the README.
        assert_eq!(built.to_lst(), lst);
    }

    #[test]
    fn draft_one_bit_vector() {
        check_draft_vector(include_str!("../../tests/vectors/status/draft-bits1.json"));
    }

    #[test]
    fn draft_two_bit_vector() {
        check_draft_vector(include_str!("../../tests/vectors/status/draft-bits2.json"));
    }

    /// IT-Wallet 1.4 §6: `bits` 4, statuses [0,0,0,3,1,2] are bytes [0x00,0x30,0x21]: index
    /// 2k is the low nibble of byte k, index 2k+1 the high one. The digest's second array
    /// [0x00,0x40,0x21] differs in byte 1's high nibble (index 3 reads 0x04, not 0x03); its
    /// claim "idx 5 → 0x02 SUSPENDED" holds for both arrays (byte 2 = 0x21, high nibble 2).
    #[test]
    fn it_wallet_four_bit_vector() {
        let v = vector(include_str!("../../tests/vectors/status/it-wallet-bits4.json"));
        assert_eq!(build(v.bits, &v.statuses).as_bytes(), v.bytes.as_slice());
        assert_eq!(v.bytes, [0x00, 0x30, 0x21]);

        let lookups = &v.json["lookups"];
        let other = StatusList::from_bytes(v.bits, hex(lookups["bytes_hex"].as_str().unwrap()));
        for pair in lookups["expect"].as_array().unwrap() {
            let (idx, value) = (pair[0].as_u64().unwrap(), u8::try_from(pair[1].as_u64().unwrap()).unwrap());
            assert_eq!(other.get(idx).unwrap().to_u8(), value, "index {idx}");
        }
        assert_eq!(other.get(5).unwrap(), StatusValue::Suspended);
        assert_eq!(other.get(3).unwrap(), StatusValue::Other(4));
        // Round trip through lst.
        let lst = other.to_lst();
        assert_eq!(decode_lst(&lst, Bits::Four, 1024).unwrap(), other);
    }

    #[test]
    fn attribute_update_refused_with_one_or_two_bits() {
        for bits in [Bits::One, Bits::Two] {
            let mut l = StatusList::new(bits, 8);
            assert_eq!(l.set(0, StatusValue::AttributeUpdate), Err(StatusError::ValueTooLarge { value: 0x0F, bits: bits.get() }));
            assert_eq!(l.get(0).unwrap(), StatusValue::Valid, "nothing written");
        }
        let mut one = StatusList::new(Bits::One, 8);
        assert_eq!(one.set(0, StatusValue::Suspended), Err(StatusError::ValueTooLarge { value: 0x02, bits: 1 }));
    }

    #[test]
    fn attribute_update_accepted_with_four_or_eight_bits() {
        for bits in [Bits::Four, Bits::Eight] {
            let mut l = StatusList::new(bits, 8);
            l.set(7, StatusValue::AttributeUpdate).unwrap();
            assert_eq!(l.get(7).unwrap(), StatusValue::AttributeUpdate);
            assert_eq!(l.get(6).unwrap(), StatusValue::Valid, "neighbour untouched");
            l.set(7, StatusValue::Valid).unwrap();
            assert_eq!(l.get(7).unwrap(), StatusValue::Valid, "overwritten, not OR-ed");
        }
        let mut four = StatusList::new(Bits::Four, 2);
        assert_eq!(four.set(0, StatusValue::Other(0x10)), Err(StatusError::ValueTooLarge { value: 0x10, bits: 4 }));
        let mut eight = StatusList::new(Bits::Eight, 1);
        eight.set(0, StatusValue::Other(0xFF)).unwrap();
        assert_eq!(eight.get(0).unwrap(), StatusValue::Other(0xFF));
    }

    #[test]
    fn status_values_compare_by_number() {
        assert_eq!(StatusValue::Other(0x02), StatusValue::Suspended);
        assert_eq!(StatusValue::Other(0x0F).name(), "ATTRIBUTE_UPDATE");
        assert_eq!(StatusValue::from_u8(0x0B).name(), "ATTRIBUTE_UPDATE");
        assert_eq!(StatusValue::from_u8(0x0C).name(), "APPLICATION_SPECIFIC");
        assert_ne!(StatusValue::Other(0x04), StatusValue::Update);
        for v in 0..=u8::MAX {
            assert_eq!(StatusValue::from_u8(v).to_u8(), v);
        }
    }

    #[test]
    fn index_out_of_bounds_is_refused() {
        let mut l = StatusList::new(Bits::One, 16);
        assert_eq!(l.len(), 16);
        assert_eq!(l.get(16), Err(StatusError::IndexOutOfBounds { idx: 16, len: 16 }));
        assert_eq!(l.get(u64::MAX), Err(StatusError::IndexOutOfBounds { idx: u64::MAX, len: 16 }));
        assert_eq!(l.set(16, StatusValue::Invalid), Err(StatusError::IndexOutOfBounds { idx: 16, len: 16 }));
        assert_eq!(StatusList::new(Bits::Four, 5).len(), 6, "rounded up to whole bytes");
    }

    #[test]
    fn bits_three_is_refused() {
        for n in [0, 3, 5, 16, u64::MAX] {
            assert_eq!(Bits::from_u64(n), Err(StatusError::InvalidBits(n)));
        }
        assert_eq!(Bits::try_from(8), Ok(Bits::Eight));
    }

    #[test]
    fn bad_base64_is_refused() {
        for lst in ["***", "eNrbuRgAAhcBXQ==", "eNrb+RgAAhcBXQ", "eNrbuRgAAhcBX Q"] {
            assert_eq!(decode_lst(lst, Bits::One, 100), Err(StatusError::BadBase64), "{lst}");
        }
    }

    #[test]
    fn not_zlib_is_refused() {
        assert_eq!(decode_lst(&b64::encode(b"not zlib"), Bits::One, 100), Err(StatusError::BadCompression));
        assert_eq!(decode_lst("", Bits::One, 100), Err(StatusError::BadCompression));
        // Raw DEFLATE without the RFC 1950 header.
        let raw = &b64::decode("eNrbuRgAAhcBXQ").unwrap()[2..];
        assert_eq!(decode_lst(&b64::encode(raw), Bits::One, 100), Err(StatusError::BadCompression));
    }

    #[test]
    fn truncated_zlib_is_refused() {
        let full = b64::decode(&build(Bits::One, &[1, 0, 1, 1, 0, 0, 1, 0, 1]).to_lst()).unwrap();
        for cut in 1..full.len() {
            assert_eq!(decode_lst(&b64::encode(&full[..cut]), Bits::One, 100), Err(StatusError::BadCompression), "cut at {cut}");
        }
        // A long list cut mid-stream: the data present inflates, the end is missing.
        let mut big = StatusList::new(Bits::Eight, 4096);
        for i in 0..4096 {
            big.set(i, StatusValue::from_u8((i * 7 % 251) as u8)).unwrap();
        }
        let full = b64::decode(&big.to_lst()).unwrap();
        let half = &full[..full.len() / 2];
        assert_eq!(decode_lst(&b64::encode(half), Bits::Eight, DEFAULT_MAX_DECOMPRESSED), Err(StatusError::BadCompression));
    }

    #[test]
    fn corrupted_checksum_and_trailing_data_are_refused() {
        let mut z = b64::decode("eNrbuRgAAhcBXQ").unwrap();
        let mut trailing = z.clone();
        trailing.push(0);
        assert_eq!(decode_lst(&b64::encode(&trailing), Bits::One, 100), Err(StatusError::BadCompression));
        if let Some(last) = z.last_mut() {
            *last ^= 1; // Adler-32
        }
        assert_eq!(decode_lst(&b64::encode(&z), Bits::One, 100), Err(StatusError::BadCompression));
    }

    #[test]
    fn decompression_bomb_is_refused() {
        let big = StatusList::new(Bits::One, 8 * 1_000_000);
        let lst = big.to_lst();
        assert!(lst.len() < 2_000, "a million zero bytes compress to {} chars", lst.len());
        assert_eq!(decode_lst(&lst, Bits::One, 64 * 1024), Err(StatusError::TooLarge { limit: 64 * 1024 }));
        assert_eq!(decode_lst(&lst, Bits::One, 999_999), Err(StatusError::TooLarge { limit: 999_999 }));
        // Exactly at the limit is accepted.
        assert_eq!(decode_lst(&lst, Bits::One, 1_000_000).unwrap().len(), 8_000_000);
        // Extreme limits do not overflow.
        assert_eq!(decode_lst("eNrbuRgAAhcBXQ", Bits::One, usize::MAX).unwrap().as_bytes(), &[0xB9, 0xA3]);
        assert_eq!(decode_lst("eNrbuRgAAhcBXQ", Bits::One, 0), Err(StatusError::TooLarge { limit: 0 }));
    }

    /// Every single-bit corruption of a valid stream, and every prefix of it as `lst` text,
    /// gives a result or a typed error, never a panic (the fuzz target explores further).
    #[test]
    fn mutated_inputs_do_not_panic() {
        let valid = b64::decode(&build(Bits::Two, &[1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]).to_lst()).unwrap();
        for bit in 0..valid.len() * 8 {
            let mut z = valid.clone();
            z[bit / 8] ^= 1 << (bit % 8);
            let _ = decode_lst(&b64::encode(&z), Bits::Two, 1024);
        }
        let text = b64::encode(&valid);
        for end in 0..=text.len() {
            let _ = decode_lst(&text[..end], Bits::Two, 1024);
        }
    }

    #[test]
    fn empty_list_round_trips() {
        let empty = StatusList::new(Bits::Two, 0);
        assert!(empty.is_empty());
        assert_eq!(decode_lst(&empty.to_lst(), Bits::Two, 0).unwrap(), empty);
    }
}
