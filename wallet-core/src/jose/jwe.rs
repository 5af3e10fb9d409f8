//! Compact JWE with ECDH-ES key agreement (in progress).
