//! # schism-engine
