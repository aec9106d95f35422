//! # schism-revm
//!
//! Placeholder while the adapter is written.
