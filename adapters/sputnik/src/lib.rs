//! # schism-sputnik
//!
//! Placeholder while the adapter is written.
