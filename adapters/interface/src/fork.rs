//! Forks: the Ethereum protocol rule sets a case can be executed under.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An Ethereum fork, ordered by activation. Spelled as in the fixtures' `post` keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Fork {
    /// Frontier (2015).
    Frontier,
    /// Homestead (EIP-2, EIP-7).
    Homestead,
    /// Tangerine Whistle (EIP-150), `EIP150` in fixtures.
    Tangerine,
    /// Spurious Dragon (EIP-155, EIP-158/161), `EIP158` in fixtures.
    SpuriousDragon,
    /// Byzantium.
    Byzantium,
    /// Constantinople (with EIP-1283 net gas metering).
    Constantinople,
    /// Petersburg: Constantinople without EIP-1283, `ConstantinopleFix` in fixtures.
    ConstantinopleFix,
    /// Istanbul.
    Istanbul,
    /// Muir Glacier (difficulty bomb only).
    MuirGlacier,
    /// Berlin (EIP-2929, EIP-2930).
    Berlin,
    /// London (EIP-1559, EIP-3529).
    London,
    /// Arrow Glacier (difficulty bomb only).
    ArrowGlacier,
    /// Gray Glacier (difficulty bomb only).
    GrayGlacier,
    /// Paris, the Merge (`Merge` in some fixtures).
    Paris,
    /// Shanghai (PUSH0, EIP-3860, withdrawals).
    Shanghai,
    /// Cancun (EIP-4844, EIP-1153, EIP-5656, EIP-6780).
    Cancun,
    /// Prague (EIP-7702, EIP-2537, EIP-7623, EIP-2935).
    Prague,
    /// Osaka (EIP-7939 CLZ, EIP-7951 P256VERIFY, EIP-7825, EIP-7883, EIP-7594).
    Osaka,
}

impl Fork {
    /// Every fork, oldest first.
    pub const ALL: [Fork; 18] = [
        Fork::Frontier,
        Fork::Homestead,
        Fork::Tangerine,
        Fork::SpuriousDragon,
        Fork::Byzantium,
        Fork::Constantinople,
        Fork::ConstantinopleFix,
        Fork::Istanbul,
        Fork::MuirGlacier,
        Fork::Berlin,
        Fork::London,
        Fork::ArrowGlacier,
        Fork::GrayGlacier,
        Fork::Paris,
        Fork::Shanghai,
        Fork::Cancun,
        Fork::Prague,
        Fork::Osaka,
    ];

    /// The name used in fixture `post` keys.
    pub const fn name(self) -> &'static str {
        match self {
            Fork::Frontier => "Frontier",
            Fork::Homestead => "Homestead",
            Fork::Tangerine => "EIP150",
            Fork::SpuriousDragon => "EIP158",
            Fork::Byzantium => "Byzantium",
            Fork::Constantinople => "Constantinople",
            Fork::ConstantinopleFix => "ConstantinopleFix",
            Fork::Istanbul => "Istanbul",
            Fork::MuirGlacier => "MuirGlacier",
            Fork::Berlin => "Berlin",
            Fork::London => "London",
            Fork::ArrowGlacier => "ArrowGlacier",
            Fork::GrayGlacier => "GrayGlacier",
            Fork::Paris => "Paris",
            Fork::Shanghai => "Shanghai",
            Fork::Cancun => "Cancun",
            Fork::Prague => "Prague",
            Fork::Osaka => "Osaka",
        }
    }

    /// True when this fork includes the rules of `other` (it is `other` or later).
    pub fn is_at_least(self, other: Fork) -> bool {
        self >= other
    }

    /// EIP-161: touched empty accounts are deleted from Spurious Dragon on.
    pub fn clears_empty_accounts(self) -> bool {
        self >= Fork::SpuriousDragon
    }
}

impl fmt::Display for Fork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fork name that no [`Fork`] matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fork `{name}` (known: Frontier .. Osaka, with EIP150, EIP158, ConstantinopleFix, Petersburg, Merge)")]
pub struct UnknownFork {
    /// The name as given.
    pub name: String,
}

impl FromStr for Fork {
    type Err = UnknownFork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fork = match s {
            "TangerineWhistle" | "Tangerine" => Fork::Tangerine,
            "SpuriousDragon" => Fork::SpuriousDragon,
            "Petersburg" => Fork::ConstantinopleFix,
            "Merge" => Fork::Paris,
            other => {
                return Fork::ALL
                    .into_iter()
                    .find(|f| f.name().eq_ignore_ascii_case(other))
                    .ok_or_else(|| UnknownFork { name: s.to_owned() });
            }
        };
        Ok(fork)
    }
}

impl Serialize for Fork {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Fork {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for fork in Fork::ALL {
            assert_eq!(fork.name().parse::<Fork>(), Ok(fork));
        }
        assert_eq!("Petersburg".parse::<Fork>(), Ok(Fork::ConstantinopleFix));
        assert_eq!("Merge".parse::<Fork>(), Ok(Fork::Paris));
        assert_eq!("cancun".parse::<Fork>(), Ok(Fork::Cancun));
        assert!("Amsterdam".parse::<Fork>().is_err());
    }

    #[test]
    fn order_follows_activation() {
        assert!(Fork::Osaka > Fork::Prague);
        assert!(Fork::ConstantinopleFix > Fork::Constantinople);
        assert!(!Fork::Homestead.clears_empty_accounts());
        assert!(Fork::Paris.clears_empty_accounts());
    }
}
