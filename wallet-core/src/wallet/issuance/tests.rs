//! Tests of the issuance flow's pure steps.
