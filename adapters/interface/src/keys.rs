//! secp256k1 signing keys, derived once per thread and secret. Deriving a key computes its
//! public point (a scalar multiplication, as costly as a signature); state tests and generated
//! transactions use a handful of secrets, case after case, so each is derived once.
//!
//! Signatures are remembered too ([`sign_prehash`]): they are deterministic (RFC 6979), and a
//! fuzzer's mutated input keeps most of its transactions and authorizations as they were, so
//! the same message is signed with the same key again and again.

use alloy_primitives::{Address, B256};
use k256::ecdsa::{RecoveryId, Signature, SigningKey};
use std::cell::RefCell;
use std::collections::HashMap;

/// Keys kept per thread before the cache starts over (fuzzing uses a few; a conformance run
/// a few dozen).
const CAPACITY: usize = 1024;

/// Signatures kept per thread before the cache starts over.
const SIGNATURES: usize = 4096;

thread_local! {
    static KEYS: RefCell<HashMap<B256, SigningKey>> = RefCell::new(HashMap::new());
    static ADDRESSES: RefCell<HashMap<B256, Address>> = RefCell::new(HashMap::new());
    static SIGNED: RefCell<HashMap<(B256, B256), (Signature, RecoveryId)>> = RefCell::new(HashMap::new());
}

/// `secret`'s recoverable signature of the 32-byte `prehash` (as
/// `SigningKey::sign_prehash_recoverable` makes it), or `None` when `secret` is not a valid
/// secret key or the signature cannot be made.
pub fn sign_prehash(secret: &B256, prehash: &B256) -> Option<(Signature, RecoveryId)> {
    if let Some(signed) = SIGNED.with(|cell| cell.borrow().get(&(*secret, *prehash)).copied()) {
        return Some(signed);
    }
    let signed = signing_key(secret)?.sign_prehash_recoverable(prehash.as_slice()).ok()?;
    SIGNED.with(|cell| {
        let mut cache = cell.borrow_mut();
        if cache.len() >= SIGNATURES {
            cache.clear();
        }
        cache.insert((*secret, *prehash), signed);
    });
    Some(signed)
}

/// Forgets the signatures this thread remembered (a benchmark repeating its inputs clears them
/// between rounds, so that it measures signing as a fuzzer's fresh inputs need it).
pub fn forget_signatures() {
    SIGNED.with(|cell| cell.borrow_mut().clear());
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
    // Remembered too: the address is the public point in affine form (a field inversion) hashed.
    if let Some(address) = ADDRESSES.with(|cell| cell.borrow().get(secret).copied()) {
        return Some(address);
    }
    let address = signing_key(secret).map(|key| Address::from_private_key(&key))?;
    ADDRESSES.with(|cell| {
        let mut addresses = cell.borrow_mut();
        if addresses.len() >= CAPACITY {
            addresses.clear();
        }
        addresses.insert(*secret, address);
    });
    Some(address)
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

    #[test]
    fn remembered_signatures_are_the_signed_ones() {
        let secret = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
        let hash = alloy_primitives::keccak256(b"message");
        let fresh = SigningKey::from_slice(secret.as_slice()).expect("valid").sign_prehash_recoverable(hash.as_slice()).expect("signs");
        assert_eq!(sign_prehash(&secret, &hash), Some(fresh));
        assert_eq!(sign_prehash(&secret, &hash), Some(fresh), "from the cache");
        forget_signatures();
        assert_eq!(sign_prehash(&secret, &hash), Some(fresh), "and signed again");
        let other = alloy_primitives::keccak256(b"other");
        assert_ne!(sign_prehash(&secret, &other), Some(fresh), "another message, another signature");
        assert_eq!(sign_prehash(&B256::ZERO, &hash), None);
    }
}
