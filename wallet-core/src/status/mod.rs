//! Token Status List (placeholder until the full module lands).

/// `status.status_list` of a credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusReference {
    /// Index in the list.
    pub idx: u64,
    /// The list's URI.
    pub uri: String,
}

/// The `status` claim.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CredentialStatus {
    /// The Token Status List reference.
    pub status_list: StatusReference,
}
