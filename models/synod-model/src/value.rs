//! The register's value type in the model: one letter (`'a'`, `'b'`, …), cheap to hash and to
//! print. Its own module so that the configuration and the client scripts can both name it
//! without depending on each other.

/// A value a client or proposer writes.
pub type Value = char;
