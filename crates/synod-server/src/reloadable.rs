//! A value replaced while running — TLS configurations and the token list, reloaded from their
//! files on SIGHUP — without disturbing the readers that hold the old one: each reader takes an
//! `Arc` of the value current when it starts (a connection, a request) and keeps it.

use std::sync::{Arc, RwLock};

/// A value that can be replaced while readers hold the old one (TLS configurations, tokens):
/// readers take an `Arc` of the current value; [`set`](Self::set) swaps in a new one.
#[derive(Debug)]
pub struct Reloadable<T>(RwLock<Arc<T>>);

impl<T> Reloadable<T> {
    /// Holds `value`.
    pub fn new(value: T) -> Self {
        Reloadable(RwLock::new(Arc::new(value)))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value; readers that took the old one keep it.
    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}
