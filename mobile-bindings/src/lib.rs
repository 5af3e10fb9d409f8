//! wallet-core for app developers: the uniffi façade (Kotlin, Swift, Python).
