//! secp256k1 signing keys, derived once per thread and secret. Deriving a key computes its
//! public point (a scalar multiplication, as costly as a signature); state tests and generated
//! transactions use a handful of secrets, case after case, so each is derived once.
//!
//! Signatures ([`sign_prehash`]) use one fixed nonce instead of RFC 6979's per-message one, so
//! that the nonce's point `R = k·G` is computed once per process and a signature costs two
//! scalar multiplications instead of a point multiplication and an HMAC-DRBG. Reusing a nonce
//! reveals the secret key to whoever sees two signatures: harmless here, where every key is a
//! published test key, and not to be copied anywhere else. The signatures are ordinary valid
//! ECDSA (low `s`, EIP-2), and recover to the key's address like any other.

use alloy_primitives::{Address, B256};
use k256::ecdsa::{RecoveryId, Signature, SigningKey};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use k256::{ProjectivePoint, Scalar, U256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Keys kept per thread before the cache starts over (fuzzing uses a few; a conformance run
/// a few dozen).
const CAPACITY: usize = 1024;

thread_local! {
    static KEYS: RefCell<HashMap<B256, SigningKey>> = RefCell::new(HashMap::new());
    static ADDRESSES: RefCell<HashMap<B256, Address>> = RefCell::new(HashMap::new());
}

/// The fixed nonce's parts: `k⁻¹`, `r` (the x coordinate of `k·G`, reduced) and whether
/// `k·G`'s y coordinate is odd.
static NONCE: LazyLock<(Scalar, Scalar, bool)> = LazyLock::new(|| {
    // Any scalar other than zero does; this one is an arbitrary constant.
    let k = <Scalar as Reduce<U256>>::reduce_bytes(&k256::FieldBytes::from(*alloy_primitives::b256!(
        "7b1a9d0e2c3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
    )));
    let point = (ProjectivePoint::GENERATOR * k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&point.x());
    (k.invert().unwrap_or(Scalar::ONE), r, bool::from(point.y_is_odd()))
});

/// `secret`'s recoverable signature of the 32-byte `prehash` (low `s`, as Ethereum requires),
/// or `None` when `secret` is not a valid secret key. See the module's note on the nonce.
pub fn sign_prehash(secret: &B256, prehash: &B256) -> Option<(Signature, RecoveryId)> {
    let key = signing_key(secret)?;
    let d: Scalar = **key.as_nonzero_scalar();
    let (k_inv, r, y_odd) = *NONCE;
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&k256::FieldBytes::from(prehash.0));
    let s = k_inv * (z + r * d);
    // Low s: the other valid s, n - s, goes with the point's negation (the other parity).
    let (s, y_odd) = if bool::from(s.is_high()) { (-s, !y_odd) } else { (s, y_odd) };
    let signature = Signature::from_scalars(r, s).ok()?;
    Some((signature, RecoveryId::new(y_odd, false)))
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
    fn signatures_are_low_s_verify_and_recover_to_the_keys_address() {
        use k256::ecdsa::VerifyingKey;
        use k256::ecdsa::signature::hazmat::PrehashVerifier;
        let secrets = [
            b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8"),
            b256!("0000000000000000000000000000000000000000000000000000000000000001"),
            b256!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"),
        ];
        let mut parities = [0usize; 2];
        for secret in secrets {
            let key = SigningKey::from_slice(secret.as_slice()).expect("valid");
            for i in 0u32..64 {
                let hash = alloy_primitives::keccak256(i.to_be_bytes());
                let (signature, recovery) = sign_prehash(&secret, &hash).expect("signs");
                assert!(!bool::from(signature.s().is_high()), "low s (EIP-2)");
                key.verifying_key().verify_prehash(hash.as_slice(), &signature).expect("verifies");
                let recovered = VerifyingKey::recover_from_prehash(hash.as_slice(), &signature, recovery).expect("recovers");
                assert_eq!(&recovered, key.verifying_key());
                let sig = alloy_primitives::Signature::from((signature, recovery));
                assert_eq!(sig.recover_address_from_prehash(&hash).ok(), address_of_key(&secret));
                parities[usize::from(recovery.is_y_odd())] += 1;
            }
        }
        assert!(parities[0] > 0 && parities[1] > 0, "both parities occur: {parities:?}");
        assert_eq!(sign_prehash(&B256::ZERO, &B256::ZERO), None, "zero is not a secret key");
    }
}
