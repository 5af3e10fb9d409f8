//! The status bit array: `bits` per credential, LSB first within each byte
//! (draft-ietf-oauth-status-list §4.1), ZLIB-compressed and base64url-encoded as `lst`.

use std::io::{Read as _, Write as _};

use super::StatusError;
use crate::jose::b64;

/// The default bound on a decompressed list: 16 MiB (134 million 1-bit statuses).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 16 << 20;

/// Bits per status.
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
    /// From the `bits` claim.
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
            Self::Eight => 0xFF,
            b => (1u8 << b.get()) - 1,
        }
    }
}

/// A credential's status (draft-ietf-oauth-status-list §7.1, IT-Wallet 1.4 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusValue {
    /// 0x00: valid.
    Valid,
    /// 0x01: revoked, permanently.
    Invalid,
    /// 0x02: suspended, may become valid again.
    Suspended,
    /// 0x03: metadata changed; the wallet should ask for re-issuance.
    Update,
    /// 0x0F: attributes changed; re-issuance with the user's consent (IT-Wallet, Feb 2026).
    AttributeUpdate,
    /// Any other value (application-specific).
    Other(u8),
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

    /// From the numeric value.
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

    /// The name IT-Wallet uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::Invalid => "INVALID",
            Self::Suspended => "SUSPENDED",
            Self::Update => "UPDATE",
            Self::AttributeUpdate => "ATTRIBUTE_UPDATE",
            Self::Other(_) => "APPLICATION_SPECIFIC",
        }
    }
}

/// The decoded status array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Bits,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `size` statuses, all VALID (the size is rounded up to whole bytes).
    pub fn new(bits: Bits, size: u64) -> Self {
        let len = size.div_ceil(bits.per_byte());
        Self { bits, bytes: vec![0; usize::try_from(len).unwrap_or(0)] }
    }

    /// A list over raw bytes.
    pub fn from_bytes(bits: Bits, bytes: Vec<u8>) -> Self {
        Self { bits, bytes }
    }

    /// Bits per status.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// How many statuses the list holds.
    pub fn len(&self) -> u64 {
        (self.bytes.len() as u64).saturating_mul(self.bits.per_byte())
    }

    /// Whether the list holds no status.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn locate(&self, idx: u64) -> Result<(usize, u8), StatusError> {
        let out = || StatusError::IndexOutOfBounds { idx, len: self.len() };
        if idx >= self.len() {
            return Err(out());
        }
        let byte = usize::try_from(idx / self.bits.per_byte()).map_err(|_| out())?;
        // LSB first: status 0 in the lowest bits of byte 0.
        let shift = u8::try_from((idx % self.bits.per_byte()) * u64::from(self.bits.get())).map_err(|_| out())?;
        Ok((byte, shift))
    }

    /// The status at `idx`.
    pub fn get(&self, idx: u64) -> Result<StatusValue, StatusError> {
        let (byte, shift) = self.locate(idx)?;
        let b = self.bytes.get(byte).copied().unwrap_or(0);
        Ok(StatusValue::from_u8((b >> shift) & self.bits.mask()))
    }

    /// Sets the status at `idx`; refuses a value that does not fit in `bits`.
    pub fn set(&mut self, idx: u64, value: StatusValue) -> Result<(), StatusError> {
        let v = value.to_u8();
        if v & !self.bits.mask() != 0 {
            return Err(StatusError::ValueTooLarge { value: v, bits: self.bits.get() });
        }
        let (byte, shift) = self.locate(idx)?;
        let mask = self.bits.mask() << shift;
        if let Some(b) = self.bytes.get_mut(byte) {
            *b = (*b & !mask) | (v << shift);
        }
        Ok(())
    }

    /// `lst`: ZLIB (RFC 1950) at the best compression, base64url.
    pub fn to_lst(&self) -> String {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let compressed = z.write_all(&self.bytes).and_then(|()| z.finish()).unwrap_or_default();
        b64::encode(compressed)
    }
}

/// Decodes `lst` (base64url of ZLIB data) into a list, refusing more than `limit` bytes once
/// decompressed. Never panics, whatever the input (fuzzed).
pub fn decode_lst(lst: &str, bits: Bits, limit: usize) -> Result<StatusList, StatusError> {
    let compressed = b64::decode(lst).map_err(|_| StatusError::BadBase64)?;
    let mut out = Vec::new();
    let mut reader = flate2::read::ZlibDecoder::new(compressed.as_slice()).take(limit as u64 + 1);
    reader.read_to_end(&mut out).map_err(|_| StatusError::BadCompression)?;
    if out.len() > limit {
        return Err(StatusError::TooLarge { limit });
    }
    Ok(StatusList { bits, bytes: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// draft-ietf-oauth-status-list §4.1, `bits` 1: statuses 1,0,0,1,1,1,0,1,1,1,0,0,0,1,0,1.
    #[test]
    fn draft_one_bit_vector() {
        let list = decode_lst("eNrbuRgAAhcBXQ", Bits::One, DEFAULT_MAX_DECOMPRESSED).unwrap();
        assert_eq!(list.as_bytes(), &[0xB9, 0xA3]);
        let expected = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(list.get(i as u64).unwrap().to_u8(), *e, "index {i}");
        }
        let mut built = StatusList::new(Bits::One, 16);
        for (i, e) in expected.iter().enumerate() {
            built.set(i as u64, StatusValue::from_u8(*e)).unwrap();
        }
        assert_eq!(built.as_bytes(), &[0xB9, 0xA3]);
        assert_eq!(decode_lst(&built.to_lst(), Bits::One, 1024).unwrap(), built);
    }

    /// draft-ietf-oauth-status-list §4.1, `bits` 2: "eNo76fITAAPfAgc" holds
    /// [0xC9, 0x44, 0xF9] = statuses 1,2,0,3,0,1,0,1,1,2,3,3.
    #[test]
    fn draft_two_bit_vector() {
        let list = decode_lst("eNo76fITAAPfAgc", Bits::Two, DEFAULT_MAX_DECOMPRESSED).unwrap();
        assert_eq!(list.as_bytes(), &[0xC9, 0x44, 0xF9]);
        let expected = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(list.get(i as u64).unwrap().to_u8(), *e, "index {i}");
        }
    }

    /// IT-Wallet 1.4 §6: `bits` 4, statuses [0,0,0,3,1,2] are bytes [0x00,0x30,0x21];
    /// in [0x00,0x40,0x21], index 5 is the high nibble of byte 2, 0x02 SUSPENDED.
    #[test]
    fn it_wallet_four_bit_vector() {
        let mut l = StatusList::new(Bits::Four, 6);
        for (i, v) in [0u8, 0, 0, 3, 1, 2].iter().enumerate() {
            l.set(i as u64, StatusValue::from_u8(*v)).unwrap();
        }
        assert_eq!(l.as_bytes(), &[0x00, 0x30, 0x21]);
        let other = StatusList::from_bytes(Bits::Four, vec![0x00, 0x40, 0x21]);
        assert_eq!(other.get(5).unwrap(), StatusValue::Suspended);
        assert_eq!(other.get(3).unwrap(), StatusValue::Other(4));
    }

    #[test]
    fn attribute_update_needs_four_bits() {
        for bits in [Bits::One, Bits::Two] {
            let mut l = StatusList::new(bits, 8);
            assert_eq!(l.set(0, StatusValue::AttributeUpdate), Err(StatusError::ValueTooLarge { value: 0x0F, bits: bits.get() }));
        }
        for bits in [Bits::Four, Bits::Eight] {
            let mut l = StatusList::new(bits, 8);
            l.set(7, StatusValue::AttributeUpdate).unwrap();
            assert_eq!(l.get(7).unwrap(), StatusValue::AttributeUpdate);
            assert_eq!(l.get(6).unwrap(), StatusValue::Valid);
        }
    }

    #[test]
    fn bounds_bits_and_corruption() {
        let l = StatusList::new(Bits::One, 16);
        assert_eq!(l.get(16), Err(StatusError::IndexOutOfBounds { idx: 16, len: 16 }));
        assert_eq!(Bits::from_u64(3), Err(StatusError::InvalidBits(3)));
        assert_eq!(decode_lst("***", Bits::One, 100), Err(StatusError::BadBase64));
        assert_eq!(decode_lst(&b64::encode(b"not zlib"), Bits::One, 100), Err(StatusError::BadCompression));
        let truncated = &l.to_lst()[..6];
        assert!(matches!(decode_lst(truncated, Bits::One, 100), Err(StatusError::BadCompression | StatusError::BadBase64)));
    }

    #[test]
    fn decompression_bomb_is_bounded() {
        let big = StatusList::new(Bits::One, 8 * 1_000_000);
        let lst = big.to_lst();
        assert!(lst.len() < 2_000, "a million zero bytes compress to {} chars", lst.len());
        assert_eq!(decode_lst(&lst, Bits::One, 64 * 1024), Err(StatusError::TooLarge { limit: 64 * 1024 }));
    }
}
