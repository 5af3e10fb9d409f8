//! Reading a QR code's modules from its SVG rendering, and its format information (ISO/IEC
//! 18004:2015 §7.9): the error correction level and mask the code declares. IT-Wallet 1.4
//! `test-plans-remote-presentation.rst` RPR-77 asks for level Q.
//!
//! The SVG is read as the dark rectangles it draws: `<path d="M x y h w v h H x V y …">`
//! segments (what the `qrcode` crate renders) and `<rect>` elements filled with a dark colour.
//! The module size is the smallest rectangle side; the grid starts at the top-left dark module.

/// The error correction levels, as the format information encodes them (§7.9.1 Table 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcLevel {
    /// About 7 %.
    L,
    /// About 15 %.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

impl EcLevel {
    fn bits(self) -> u16 {
        match self {
            Self::L => 1,
            Self::M => 0,
            Self::Q => 3,
            Self::H => 2,
        }
    }

    fn from_bits(b: u16) -> Self {
        match b & 3 {
            1 => Self::L,
            0 => Self::M,
            3 => Self::Q,
            _ => Self::H,
        }
    }
}

/// A QR code's modules: `size` × `size`, dark = `true`, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Modules per side.
    pub size: usize,
    dark: Vec<bool>,
}

impl Grid {
    /// Whether the module at `(col, row)` is dark (outside the grid: light).
    pub fn get(&self, col: usize, row: usize) -> bool {
        if col >= self.size || row >= self.size {
            return false;
        }
        self.dark.get(row * self.size + col).copied().unwrap_or(false)
    }

    /// Sets the module at `(col, row)`.
    pub fn set(&mut self, col: usize, row: usize, dark: bool) {
        if col < self.size
            && row < self.size
            && let Some(m) = self.dark.get_mut(row * self.size + col)
        {
            *m = dark;
        }
    }

    /// The modules of an SVG rendering.
    pub fn from_svg(svg: &str) -> Result<Self, String> {
        let rects = dark_rects(svg);
        let unit = rects.iter().flat_map(|r| [r.2, r.3]).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        if rects.is_empty() || !unit.is_finite() {
            return Err("the SVG draws no dark modules".into());
        }
        let left = rects.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let top = rects.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let right = rects.iter().map(|r| r.0 + r.2).fold(f64::NEG_INFINITY, f64::max);
        let bottom = rects.iter().map(|r| r.1 + r.3).fold(f64::NEG_INFINITY, f64::max);
        let side = ((right - left).max(bottom - top) / unit).round();
        if !(21.0..=177.0).contains(&side) {
            return Err(format!("a grid of {side} modules is not a QR code (21 to 177)"));
        }
        // Bounded above: the cast keeps the value.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let size = side as usize;
        let mut grid = Self { size, dark: vec![false; size * size] };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        for (x, y, w, h) in rects {
            let (c0, r0) = (((x - left) / unit).round() as usize, ((y - top) / unit).round() as usize);
            let (cw, rh) = ((w / unit).round() as usize, (h / unit).round() as usize);
            for row in r0..r0 + rh {
                for col in c0..c0 + cw {
                    grid.set(col, row, true);
                }
            }
        }
        Ok(grid)
    }

    /// The SVG of the grid (a quiet zone of four modules, 8 units each).
    pub fn to_svg(&self) -> String {
        let side = (self.size + 8) * 8;
        let mut d = String::new();
        for row in 0..self.size {
            for col in 0..self.size {
                if self.get(col, row) {
                    let (x, y) = ((col + 4) * 8, (row + 4) * 8);
                    d.push_str(&format!("M{x} {y}h8v8H{x}V{y}"));
                }
            }
        }
        format!(
            r##"<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}" height="{side}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect x="0" y="0" width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{d}"/></svg>"##
        )
    }

    /// The positions of the first copy of the format information, bit 0 first (§7.9.1,
    /// Figure 25: beside the top-left finder pattern).
    fn format_positions(&self) -> [(usize, usize); 15] {
        let mut p = [(0, 0); 15];
        for (i, slot) in p.iter_mut().enumerate() {
            *slot = match i {
                0..=5 => (8, i),
                6 => (8, 7),
                7 => (8, 8),
                8 => (7, 8),
                _ => (14 - i, 8),
            };
        }
        p
    }

    /// The positions of the second copy (beside the other two finder patterns).
    fn format_positions_2(&self) -> [(usize, usize); 15] {
        let n = self.size;
        let mut p = [(0, 0); 15];
        for (i, slot) in p.iter_mut().enumerate() {
            *slot = if i < 8 { (n - 1 - i, 8) } else { (8, n - 15 + i) };
        }
        p
    }

    /// The error correction level and mask the format information declares: the valid
    /// format word nearest to either copy (at most 3 bits off).
    pub fn format(&self) -> Result<(EcLevel, u8), String> {
        let read = |pos: [(usize, usize); 15]| pos.iter().enumerate().fold(0u16, |acc, (i, (c, r))| acc | (u16::from(self.get(*c, *r)) << i));
        let copies = [read(self.format_positions()), read(self.format_positions_2())];
        let mut best: Option<(u32, u16)> = None;
        for data in 0u16..32 {
            let word = format_word(data);
            for c in copies {
                let d = (word ^ c).count_ones();
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, data));
                }
            }
        }
        match best {
            Some((d, data)) if d <= 3 => Ok((EcLevel::from_bits(data >> 3), u8::try_from(data & 7).unwrap_or_default())),
            _ => Err(format!("no valid format information (read {:015b} and {:015b})", copies[0], copies[1])),
        }
    }

    /// Writes format information for `level` and `mask` in both copies.
    pub fn set_format(&mut self, level: EcLevel, mask: u8) {
        let word = format_word((level.bits() << 3) | u16::from(mask & 7));
        for pos in [self.format_positions(), self.format_positions_2()] {
            for (i, (c, r)) in pos.iter().enumerate() {
                self.set(*c, *r, (word >> i) & 1 == 1);
            }
        }
    }
}

/// Error correction codewords per block, by level (L, M, Q, H) and version 1-40 (ISO/IEC
/// 18004:2015 Table 9).
const ECC_PER_BLOCK: [[u16; 40]; 4] = [
    [7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    [13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
];

/// Error correction blocks, by level and version (Table 9).
const BLOCKS: [[u16; 40]; 4] = [
    [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
    [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
    [1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
    [1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
];

impl EcLevel {
    fn index(self) -> usize {
        match self {
            Self::L => 0,
            Self::M => 1,
            Self::Q => 2,
            Self::H => 3,
        }
    }
}

/// The centres of the alignment patterns on each axis (§6.3.6, Annex E).
fn alignment_positions(version: usize, size: usize) -> Vec<usize> {
    if version == 1 {
        return Vec::new();
    }
    let count = version / 7 + 2;
    let step = if version == 32 { 26 } else { (version * 4 + 4).div_ceil(count * 2 - 2) * 2 };
    let mut out: Vec<usize> = (0..count - 1).map(|i| size - 7 - i * step).collect();
    out.push(6);
    out.reverse();
    out
}

/// Whether `(mask)` inverts the module at `(col, row)` (§7.8.2 Table 10).
fn masked(mask: u8, col: usize, row: usize) -> bool {
    let (x, y) = (col, row);
    match mask {
        0 => (x + y) % 2 == 0,
        1 => y % 2 == 0,
        2 => x % 3 == 0,
        3 => (x + y) % 3 == 0,
        4 => (x / 3 + y / 2) % 2 == 0,
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3) % 2 == 0,
        _ => ((x + y) % 2 + (x * y) % 3) % 2 == 0,
    }
}

/// Reads bits most significant first.
struct Bits<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.bytes.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

const ALPHANUMERIC: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

impl Grid {
    /// The modules of function patterns (finders, separators, format and version
    /// information, timing, alignment), which carry no data.
    fn function_modules(&self, version: usize) -> Vec<bool> {
        let n = self.size;
        let mut f = vec![false; n * n];
        let mut mark = |c: usize, r: usize| {
            if let Some(m) = f.get_mut(r * n + c) {
                *m = true;
            }
        };
        for i in 0..n {
            mark(6, i);
            mark(i, 6);
        }
        for r in 0..9 {
            for c in 0..9 {
                mark(c, r);
            }
            for c in n - 8..n {
                mark(c, r);
                mark(r, c);
            }
        }
        let centres = alignment_positions(version, n);
        let last = centres.len().saturating_sub(1);
        for (i, &y) in centres.iter().enumerate() {
            for (j, &x) in centres.iter().enumerate() {
                if (i == 0 && (j == 0 || j == last)) || (i == last && j == 0) {
                    continue;
                }
                for r in y - 2..=y + 2 {
                    for c in x - 2..=x + 2 {
                        mark(c, r);
                    }
                }
            }
        }
        if version >= 7 {
            for a in 0..6 {
                for b in n - 11..n - 8 {
                    mark(b, a);
                    mark(a, b);
                }
            }
        }
        f
    }

    /// The text the QR code encodes (numeric, alphanumeric and byte segments, read as UTF-8),
    /// assuming an undamaged rendering: no error correction is applied.
    pub fn decode(&self) -> Result<String, String> {
        let (level, mask) = self.format()?;
        let n = self.size;
        if n < 21 || !(n - 17).is_multiple_of(4) {
            return Err(format!("{n} modules is not a QR code size"));
        }
        let version = (n - 17) / 4;
        let function = self.function_modules(version);
        // Codewords in placement order (§7.7.3): two-module columns from the right, upwards
        // and downwards in turn, skipping the vertical timing pattern.
        let mut raw = Vec::new();
        let (mut byte, mut nbits) = (0u8, 0);
        let mut right = n - 1;
        loop {
            if right == 6 {
                right = 5;
            }
            let upward = (right + 1) & 2 == 0;
            for vert in 0..n {
                let row = if upward { n - 1 - vert } else { vert };
                for col in [right, right - 1] {
                    if function.get(row * n + col).copied().unwrap_or(true) {
                        continue;
                    }
                    byte = (byte << 1) | u8::from(self.get(col, row) ^ masked(mask, col, row));
                    nbits += 1;
                    if nbits == 8 {
                        raw.push(byte);
                        (byte, nbits) = (0, 0);
                    }
                }
            }
            if right < 3 {
                break;
            }
            right -= 2;
        }
        // De-interleave the data codewords of the blocks (§7.6).
        let ecc = usize::from(ECC_PER_BLOCK.get(level.index()).and_then(|t| t.get(version - 1)).copied().unwrap_or(0));
        let blocks = usize::from(BLOCKS.get(level.index()).and_then(|t| t.get(version - 1)).copied().unwrap_or(1));
        let total = raw.len();
        let short_len = total / blocks;
        let shorts = blocks - total % blocks;
        let short_data = short_len.checked_sub(ecc).ok_or("the error correction table does not fit the symbol")?;
        let mut data: Vec<Vec<u8>> = vec![Vec::new(); blocks];
        let mut it = raw.iter();
        for i in 0..=short_data {
            for (j, block) in data.iter_mut().enumerate() {
                if i < short_data || j >= shorts {
                    block.push(*it.next().ok_or("fewer codewords than the symbol holds")?);
                }
            }
        }
        let data: Vec<u8> = data.concat();
        // Segments (§7.4).
        let mut bits = Bits { bytes: &data, pos: 0 };
        // Character count bits by version class (§7.4.1 Table 3): numeric, alphanumeric, byte.
        let (num_bits, alnum_bits, byte_bits) = if version <= 9 {
            (10, 9, 8)
        } else if version <= 26 {
            (12, 11, 16)
        } else {
            (14, 13, 16)
        };
        let mut out = Vec::new();
        while let Some(mode) = bits.take(4) {
            match mode {
                0 => break,
                1 => {
                    let count = bits.take(num_bits).ok_or("truncated numeric segment")?;
                    let mut left = count;
                    while left > 0 {
                        let (digits, width) = match left {
                            1 => (1, 4),
                            2 => (2, 7),
                            _ => (3, 10),
                        };
                        let v = bits.take(width).ok_or("truncated numeric segment")?;
                        out.extend(format!("{v:0digits$}", digits = usize::try_from(digits).unwrap_or(3)).bytes());
                        left -= digits;
                    }
                }
                2 => {
                    let count = bits.take(alnum_bits).ok_or("truncated alphanumeric segment")?;
                    let ch = |v: u32| ALPHANUMERIC.get(usize::try_from(v).unwrap_or(usize::MAX)).copied().ok_or("an alphanumeric value out of range");
                    for _ in 0..count / 2 {
                        let v = bits.take(11).ok_or("truncated alphanumeric segment")?;
                        out.push(ch(v / 45)?);
                        out.push(ch(v % 45)?);
                    }
                    if count % 2 == 1 {
                        out.push(ch(bits.take(6).ok_or("truncated alphanumeric segment")?)?);
                    }
                }
                4 => {
                    let count = bits.take(byte_bits).ok_or("truncated byte segment")?;
                    for _ in 0..count {
                        out.push(u8::try_from(bits.take(8).ok_or("truncated byte segment")?).unwrap_or_default());
                    }
                }
                7 => {
                    // ECI designator: one to three bytes; the text stays UTF-8 here.
                    let first = bits.take(8).ok_or("truncated ECI")?;
                    let extra = if first & 0x80 == 0 { 0 } else if first & 0x40 == 0 { 8 } else { 16 };
                    bits.take(extra).ok_or("truncated ECI")?;
                }
                other => return Err(format!("unsupported segment mode {other:04b}")),
            }
        }
        String::from_utf8(out).map_err(|e| format!("the QR code's text is not UTF-8: {e}"))
    }
}

/// The 15-bit format word of 5 data bits: BCH(15,5) with generator 0x537, masked with 0x5412
/// (§7.9.2, Annex C).
fn format_word(data: u16) -> u16 {
    let mut rem = data;
    for _ in 0..10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    }
    ((data << 10) | (rem & 0x3ff)) ^ 0x5412
}

/// The dark rectangles (x, y, width, height) an SVG draws.
fn dark_rects(svg: &str) -> Vec<(f64, f64, f64, f64)> {
    let mut out = Vec::new();
    // Paths filled dark: M x y h w v h H x V y segments.
    for part in svg.split("<path").skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if !dark_fill(tag) {
            continue;
        }
        let Some(d) = attr(tag, "d") else { continue };
        for seg in d.split('M').skip(1) {
            let nums: Vec<f64> = seg.split(|c: char| c.is_ascii_alphabetic() || c == ' ' || c == ',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
            if let [x, y, w, h, ..] = nums[..] {
                out.push((x, y, w, h));
            }
        }
    }
    for part in svg.split("<rect").skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if !dark_fill(tag) {
            continue;
        }
        let num = |n: &str| attr(tag, n).and_then(|v| v.parse::<f64>().ok());
        if let (Some(x), Some(y), Some(w), Some(h)) = (num("x"), num("y"), num("width"), num("height")) {
            out.push((x, y, w, h));
        }
    }
    out
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = tag.get(start..)?;
    rest.split('"').next()
}

/// A fill that reads as dark (black, or a colour with every channel below the middle).
fn dark_fill(tag: &str) -> bool {
    let fill = attr(tag, "fill").unwrap_or("#000").to_ascii_lowercase();
    match fill.as_str() {
        "black" | "#000" | "#000000" => true,
        f if f.len() == 7 && f.starts_with('#') => [1, 3, 5].iter().all(|i| f.get(*i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).is_some_and(|v| v < 0x80)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn format_words_match_the_standard_table() {
        // ISO/IEC 18004 Annex C, Table C.1: level M mask 0 and level Q mask 0 (after masking).
        assert_eq!(format_word(0b00000), 0b101010000010010);
        assert_eq!(format_word(0b11000), 0b011010101011111);
    }

    #[test]
    fn a_grid_round_trips_through_svg_with_its_format() {
        let mut g = Grid { size: 21, dark: vec![false; 21 * 21] };
        g.set(0, 0, true);
        g.set(20, 20, true);
        g.set_format(EcLevel::Q, 5);
        let back = Grid::from_svg(&g.to_svg()).unwrap();
        assert_eq!(back.format().unwrap(), (EcLevel::Q, 5));
        assert_eq!(back, g);
    }
}
