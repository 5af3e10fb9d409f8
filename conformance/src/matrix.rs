//! The IT-Wallet test matrix (`data/it-wallet-test-matrix.tsv`, 732 rows from the
//! `test-plans-*.rst` files of the IT-Wallet documentation): one row per test case, with its
//! id, purpose, description, expected result and the spec line it comes from.
//!
//! The file is tab-separated with a header line. A field may be quoted the CSV way (`"…"`,
//! `""` for a quote inside), as a few rows of the source tables are.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The matrix as shipped with the tool.
const EMBEDDED: &str = include_str!("../data/it-wallet-test-matrix.tsv");

/// The columns, in order.
const HEADER: [&str; 7] = ["matrix", "section", "id", "purpose", "description", "expected_result", "source"];

/// A test-case id of the matrix (`FA_001`, `RPR_012`, `ATT-003`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct TestId(String);

impl TestId {
    /// Letters, digits, `_` and `-`, 1..=32 characters.
    pub fn new(s: &str) -> Result<Self, MatrixError> {
        let ok = !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(MatrixError::BadId(s.to_owned())) }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One test case of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// `CI`, `RPR`, `PPR`, `FA`, `WP`, `ATT`, `ALL`.
    pub matrix: String,
    /// The table it is in (`Credential Issuer Test Matrix`, `Test Cases for Wallet Provider Backend`).
    pub section: String,
    /// The id.
    pub id: TestId,
    /// `Security`, `Interoperability`, `Discovery`…
    pub purpose: String,
    /// What is tested.
    pub description: String,
    /// What a conformant deployment does.
    pub expected: String,
    /// The spec file and line (`docs/en/test-plans-credential-issuer.rst:19`).
    pub source: String,
}

/// A matrix file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// The first line is not the expected header.
    #[error("the header is not `{}`", HEADER.join("\\t"))]
    Header,
    /// A line has the wrong number of fields.
    #[error("line {line}: {fields} fields, expected {}", HEADER.len())]
    Fields {
        /// 1-based.
        line: usize,
        /// Found.
        fields: usize,
    },
    /// An id with characters other than letters, digits, `_`, `-`.
    #[error("bad test id `{0}`")]
    BadId(String),
    /// The same id twice.
    #[error("test id `{0}` appears twice")]
    Duplicate(String),
}

/// The rows, in file order, indexed by id.
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: Vec<Row>,
    by_id: BTreeMap<TestId, usize>,
}

impl Matrix {
    /// The matrix shipped with the tool (parsed once).
    pub fn embedded() -> &'static Self {
        static M: OnceLock<Matrix> = OnceLock::new();
        // The embedded file is checked by this crate's tests; an error here would be a build defect,
        // so it yields an empty matrix rather than a panic.
        M.get_or_init(|| Self::parse(EMBEDDED).unwrap_or_else(|_| Self { rows: Vec::new(), by_id: BTreeMap::new() }))
    }

    /// Parses the TSV text.
    pub fn parse(text: &str) -> Result<Self, MatrixError> {
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = lines.next().map(|(_, l)| l.split('\t').collect()).unwrap_or_default();
        if header != HEADER {
            return Err(MatrixError::Header);
        }
        let mut rows = Vec::new();
        let mut by_id = BTreeMap::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<String> = line.split('\t').map(unquote).collect();
            let [matrix, section, id, purpose, description, expected, source]: [String; 7] =
                fields.try_into().map_err(|f: Vec<String>| MatrixError::Fields { line: i + 1, fields: f.len() })?;
            let id = TestId::new(id.trim())?;
            if by_id.insert(id.clone(), rows.len()).is_some() {
                return Err(MatrixError::Duplicate(id.0));
            }
            rows.push(Row { matrix, section, id, purpose, description, expected, source });
        }
        Ok(Self { rows, by_id })
    }

    /// Every row, in file order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of `id`.
    pub fn get(&self, id: &str) -> Option<&Row> {
        let id = TestId::new(id).ok()?;
        self.by_id.get(&id).and_then(|&i| self.rows.get(i))
    }
}

/// `"a ""b"""` → `a "b"`; anything else unchanged.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) if field.len() >= 2 => inner.replace("\"\"", "\""),
        _ => field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_embedded_matrix_has_every_row() {
        let m = Matrix::parse(EMBEDDED).unwrap();
        assert_eq!(m.rows().len(), 732);
        let counts = |p: &str| m.rows().iter().filter(|r| r.matrix == p).count();
        assert_eq!((counts("CI"), counts("RPR"), counts("PPR"), counts("FA"), counts("WP"), counts("ATT"), counts("ALL")), (232, 110, 67, 20, 280, 15, 8));
        assert_eq!(Matrix::embedded().rows().len(), 732);
    }

    #[test]
    fn rows_are_found_by_id_with_their_source() {
        let r = Matrix::embedded().get("FA_001").unwrap();
        assert_eq!(r.matrix, "FA");
        assert!(r.expected.contains("application/entity-statement+jwt"), "{}", r.expected);
        assert!(r.source.starts_with("docs/en/"), "{}", r.source);
        assert!(Matrix::embedded().get("FA_999").is_none());
        assert!(Matrix::embedded().get("../etc").is_none());
    }

    #[test]
    fn quoted_fields_are_unquoted() {
        let r = Matrix::embedded().get("FA_014").unwrap();
        assert_eq!(r.description, "Disallow alg\":\"none and weak algorithms");
        assert_eq!(unquote("\"a \"\"b\"\"\""), "a \"b\"");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn malformed_files_are_refused() {
        assert_eq!(Matrix::parse("a\tb\n").unwrap_err(), MatrixError::Header);
        let h = HEADER.join("\t");
        assert!(matches!(Matrix::parse(&format!("{h}\nCI\tx\tCI_1\n")).unwrap_err(), MatrixError::Fields { line: 2, fields: 3 }));
        let row = "CI\ts\tCI_1\tp\td\te\tsrc";
        assert_eq!(Matrix::parse(&format!("{h}\n{row}\n{row}\n")).unwrap_err(), MatrixError::Duplicate("CI_1".into()));
        assert!(matches!(Matrix::parse(&format!("{h}\nCI\ts\tCI 1\tp\td\te\tsrc\n")).unwrap_err(), MatrixError::BadId(_)));
    }
}
