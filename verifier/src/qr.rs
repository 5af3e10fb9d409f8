//! The wallet URL as a QR code (IT-Wallet 1.4 §5.1, RPR-05/77: error correction level Q),
//! in SVG (crate `qrcode`) and PNG (8-bit greyscale written here with `flate2` and
//! `crc32fast`: the `png` crate would bring a second `miniz_oxide`, `image` far more).

use std::io::Write as _;

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the PNG.
const SCALE: usize = 8;
/// Modules of quiet zone around the code (ISO/IEC 18004: 4).
const QUIET: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
#[error("QR code: {0}")]
pub struct QrError(String, bool);

impl QrError {
    /// Whether the data does not fit the largest code at level Q.
    pub fn too_long(&self) -> bool {
        self.1
    }
}

fn code(data: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::Q).map_err(|e| QrError(e.to_string(), e == qrcode::types::QrError::DataTooLong))
}

/// The SVG document.
pub fn svg(data: &str) -> Result<String, QrError> {
    Ok(code(data)?.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}

/// The code as text for a terminal, for `tessera verifier check`: two modules a character
/// (Unicode half blocks) with its quiet zone, drawn for the usual light-on-dark terminal (the
/// code's dark modules are the terminal's background, its light ones the text's colour); a
/// dark-on-light terminal shows it inverted.
pub fn text(data: &str) -> Result<String, QrError> {
    Ok(code(data)?
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<(), QrError> {
    let len = u32::try_from(data.len()).map_err(|_| QrError("PNG chunk too large".into(), false))?;
    out.extend_from_slice(&len.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    Ok(())
}

/// The PNG image: black modules on white, 8 pixels each, with a quiet zone.
pub fn png(data: &str) -> Result<Vec<u8>, QrError> {
    let qr = code(data)?;
    let width = qr.width();
    let colors = qr.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut raw = Vec::with_capacity(side * (side + 1));
    for y in 0..side {
        raw.push(0u8); // filter: none
        for x in 0..side {
            let (mx, my) = ((x / SCALE).checked_sub(QUIET), (y / SCALE).checked_sub(QUIET));
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < width && my < width => colors.get(my * width + mx) == Some(&Color::Dark),
                _ => false,
            };
            raw.push(if dark { 0 } else { 255 });
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).map_err(|e| QrError(e.to_string(), false))?;
    let idat = z.finish().map_err(|e| QrError(e.to_string(), false))?;
    let side32 = u32::try_from(side).map_err(|_| QrError("image too large".into(), false))?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side32.to_be_bytes());
    ihdr.extend_from_slice(&side32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr)?;
    chunk(&mut out, b"IDAT", &idat)?;
    chunk(&mut out, b"IEND", &[])?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_png_of_a_wallet_url() {
        let url = "openid4vp://?client_id=openid_federation%3Ahttps%3A%2F%2Fv.example.it&request_uri=https%3A%2F%2Fv.example.it%2Frequest-uri%3Fid%3Dabc&request_uri_method=post";
        let s = svg(url).unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg"), "{s}");
        let p = png(url).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        // The terminal's: every line as wide, the quiet zone (light: drawn) around it.
        let t = text(url).unwrap();
        let widths: std::collections::BTreeSet<usize> = t.lines().map(|l| l.chars().count()).collect();
        assert_eq!(widths.len(), 1, "{t}");
        assert!(t.lines().next().unwrap().chars().all(|c| c == '█'), "{t}");
        assert!(t.lines().count() > 15 && t.contains(' '), "{t}");
        assert_eq!(&p[12..16], b"IHDR");
        let side = u32::from_be_bytes([p[16], p[17], p[18], p[19]]) as usize;
        assert_eq!(side % SCALE, 0);
        assert_eq!(code(url).unwrap().error_correction_level(), EcLevel::Q);
        // The image data inflates to one filter byte and `side` pixels per row.
        let idat_len = u32::from_be_bytes([p[33], p[34], p[35], p[36]]) as usize;
        assert_eq!(&p[37..41], b"IDAT");
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&p[41..41 + idat_len]), &mut inflated).unwrap();
        assert_eq!(inflated.len(), side * (side + 1));
        assert_eq!(&p[p.len() - 8..p.len() - 4], b"IEND");
    }
}
