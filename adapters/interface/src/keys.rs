//! secp256k1 signing keys, derived once per thread and secret. Deriving a key computes its
//! public point (a scalar multiplication, as costly as a signature); state tests and generated
//! transactions use a handful of secrets, case after case, so each is derived once.

use alloy_primitives::{Address, B256};
use k256::ecdsa::SigningKey;
use std::cell::RefCell;
use std::collections::HashMap;

/// Keys kept per thread before the cache starts over (fuzzing uses a few; a conformance run
/// a few dozen).
const CAPACITY: usize = 1024;

thread_local! {
    static KEYS: RefCell<HashMap<B256, SigningKey>> = RefCell::new(HashMap::new());
}

/// The signing key of `secret`, or `None` when it is not a valid secp256k1 secret key.
pub fn signing_key(secret: &B256) -> Option<SigningKey> {
    KEYS.with(|cell| {
        let mut keys = cell.borrow_mut();
        if let Some(key) = keys.get(secret) {
            return Some(key.clone());
        }
        let key = SigningKey::from_slice(secret.as_slice()).ok()?;
        if keys.len() >= CAPACITY {
            keys.clear();
        }
        keys.insert(*secret, key.clone());
        Some(key)
    })
}

/// The address of a secp256k1 private key, or `None` when it is not a valid one.
pub fn address_of_key(secret: &B256) -> Option<Address> {
    signing_key(secret).map(|key| Address::from_private_key(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn cached_keys_are_the_derived_ones() {
        let secret = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
        let fresh = SigningKey::from_slice(secret.as_slice()).expect("valid");
        assert_eq!(signing_key(&secret), Some(fresh.clone()));
        assert_eq!(signing_key(&secret), Some(fresh), "from the cache");
        assert_eq!(address_of_key(&secret), Some(alloy_primitives::address!("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")));
        assert_eq!(signing_key(&B256::ZERO), None, "zero is not a secret key");
    }
}
