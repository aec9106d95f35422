//! Serde for the fixtures' numbers: `0x`-prefixed hex (zero-padded or not), decimal strings or
//! JSON numbers on input; minimal `0x` hex on output, as the fixture writers produce it.

use serde::Serializer;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Parses a fixture quantity into a `u64`.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some("") => Ok(0),
        Some(hex) => match hex.trim_start_matches('0') {
            "" => Ok(0),
            digits => u64::from_str_radix(digits, 16),
        },
        None => s.parse::<u64>(),
    };
    parsed.map_err(|e| format!("`{s}` is not a 64-bit quantity: {e}"))
}

/// Serde adapter for `u64` fields (`#[serde(with = "quantity")]`).
pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{value:#x}"))
}

/// Serde adapter for `u64` fields (`#[serde(with = "quantity")]`).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(U64Visitor)
}

struct U64Visitor;

impl Visitor<'_> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hex or decimal quantity that fits in 64 bits")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_u64(v).map_err(E::custom)
    }
}

/// Serde adapter for `Option<u64>` fields.
pub mod opt {
    use super::*;

    /// Serializes `Some` as a quantity; `None` is skipped by the field attribute.
    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Deserializes a present quantity as `Some`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

/// Serde adapter for `Vec<u64>` fields.
pub mod vec {
    use super::*;
    use serde::Deserialize;
    use serde::ser::SerializeSeq;

    /// Serializes each element as a quantity.
    pub fn serialize<S: Serializer>(value: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(value.len()))?;
        for v in value {
            seq.serialize_element(&format!("{v:#x}"))?;
        }
        seq.end()
    }

    /// Deserializes a list of quantities.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Q(#[serde(with = "super")] u64);
        Ok(Vec::<Q>::deserialize(d)?.into_iter().map(|q| q.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_u64;

    #[test]
    fn parses_fixture_spellings() {
        assert_eq!(parse_u64("0x00"), Ok(0));
        assert_eq!(parse_u64("0x"), Ok(0));
        assert_eq!(parse_u64("0x0000000000000000000000000000000000000000000000000000000000000001"), Ok(1));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_u64("1000"), Ok(1000));
        assert!(parse_u64("0x010000000000000000").is_err());
        assert!(parse_u64("0xzz").is_err());
    }
}
