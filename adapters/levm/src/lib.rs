//! # schism-levm
//!
//! Placeholder while the adapter is written.
