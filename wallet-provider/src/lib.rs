//! The IT-Wallet wallet provider (IT-Wallet 1.4 §2).
