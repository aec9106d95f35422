//! Values and precompile inputs the generator draws from: boundary words for arithmetic, fixed
//! keys, and well-formed inputs for every precompile (valid curve points, signatures, KZG and
//! P-256 vectors), so that most generated calls get past input validation.

use alloy_primitives::{Address, B256, U256, address, b256, hex, keccak256};
use std::sync::OnceLock;

/// Words at the edges of 256-bit arithmetic, signed and unsigned.
pub const BOUNDARIES: [U256; 24] = {
    const fn word(hi: u64, lo: u64) -> U256 {
        U256::from_limbs([lo, 0, 0, hi])
    }
    [
        U256::ZERO,
        U256::from_limbs([1, 0, 0, 0]),
        U256::from_limbs([2, 0, 0, 0]),
        U256::from_limbs([31, 0, 0, 0]),
        U256::from_limbs([32, 0, 0, 0]),
        U256::from_limbs([255, 0, 0, 0]),
        U256::from_limbs([256, 0, 0, 0]),
        U256::from_limbs([257, 0, 0, 0]),
        U256::from_limbs([0x7f, 0, 0, 0]),
        U256::from_limbs([0x80, 0, 0, 0]),
        U256::from_limbs([u64::MAX, 0, 0, 0]),
        U256::from_limbs([0, 1, 0, 0]),
        U256::from_limbs([u64::MAX, u64::MAX, 0, 0]),
        U256::from_limbs([u64::MAX, u64::MAX, 0xffff_ffff, 0]),
        word(1 << 63, 0),
        U256::from_limbs([u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1]),
        U256::MAX,
        U256::from_limbs([u64::MAX - 1, u64::MAX, u64::MAX, u64::MAX]),
        word(1 << 63, 1),
        U256::from_limbs([0xffff_ffff, 0, 0, 0]),
        U256::from_limbs([0x1_0000_0000, 0, 0, 0]),
        U256::from_limbs([0xffff, 0, 0, 0]),
        U256::from_limbs([1024, 0, 0, 0]),
        word(0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff),
    ]
};

/// Positions in [`BOUNDARIES`] of the words [`COMBINATIONS`] names.
pub mod at {
    /// 0.
    pub const ZERO: u8 = 0;
    /// 1.
    pub const ONE: u8 = 1;
    /// 2.
    pub const TWO: u8 = 2;
    /// 31, the last byte index.
    pub const B31: u8 = 3;
    /// 32, one past the last byte index.
    pub const B32: u8 = 4;
    /// 255, the last bit index.
    pub const B255: u8 = 5;
    /// 256, one past the last bit index.
    pub const B256: u8 = 6;
    /// 257.
    pub const B257: u8 = 7;
    /// 0x7f, a byte with its sign bit clear.
    pub const X7F: u8 = 8;
    /// 0x80, a byte with its sign bit set.
    pub const X80: u8 = 9;
    /// 2^64, the first word past a u64.
    pub const P64: u8 = 11;
    /// 2^128 - 1.
    pub const U128: u8 = 12;
    /// -2^255, the most negative word.
    pub const MIN: u8 = 14;
    /// 2^255 - 1, the most positive word.
    pub const SMAX: u8 = 15;
    /// -1 (2^256 - 1).
    pub const MAX: u8 = 16;
    /// -2.
    pub const MAX1: u8 = 17;
    /// -2^255 + 1.
    pub const MIN1: u8 = 18;
    /// 2^255 + 2^64 - 1: the sign bit with the low 64 bits set.
    pub const MINLO: u8 = 23;
}

/// Operand combinations that are hard to meet by drawing each operand on its own: which
/// instructions they are for, and their operands as positions in [`BOUNDARIES`], the first on
/// top of the stack (a third operand only where the instruction takes three). The overflowing
/// quotient -2^255 / -1, sums and products past 2^256 with a zero, one or wide modulus, sign-bit
/// pairs of the signed comparisons, shifts and indices at and past the word's width (and past
/// 2^64, where they stop fitting a machine word), 0^0 and powers that wrap, and the one-operand
/// instructions (CLZ, ISZERO, NOT) on 0, 1, 2^256 - 1 and -2^255. Adding one is one
/// row.
#[rustfmt::skip]
pub const COMBINATIONS: &[(&[u8], [u8; 3])] = {
    use revm_bytecode::opcode::{ADD, ADDMOD, BYTE, CLZ, DIV, EQ, EXP, GT, ISZERO, LT, MOD, MUL, MULMOD, NOT, SAR, SDIV, SGT, SHL, SHR, SIGNEXTEND, SLT, SMOD, SUB};
    use at::*;
    const SIGNED_DIVISION: &[u8] = &[SDIV, SMOD, DIV, MOD];
    const MODULAR: &[u8] = &[ADDMOD, MULMOD];
    const COMPARISON: &[u8] = &[SLT, SGT, LT, GT, EQ];
    const SHIFT: &[u8] = &[SAR, SHR, SHL];
    const INDEX: &[u8] = &[BYTE, SIGNEXTEND];
    const WRAPPING: &[u8] = &[ADD, MUL, SUB, EXP];
    const UNARY: &[u8] = &[CLZ, ISZERO, NOT];
    &[
        (SIGNED_DIVISION, [MIN, MAX, ZERO]),
        (SIGNED_DIVISION, [MIN, ZERO, ZERO]),
        (SIGNED_DIVISION, [MIN, MIN, ZERO]),
        (SIGNED_DIVISION, [MAX, MIN, ZERO]),
        (SIGNED_DIVISION, [MIN1, MAX, ZERO]),
        (SIGNED_DIVISION, [MAX, TWO, ZERO]),
        (SIGNED_DIVISION, [MAX1, TWO, ZERO]),
        (SIGNED_DIVISION, [SMAX, MAX1, ZERO]),
        (SIGNED_DIVISION, [MIN, B255, ZERO]),
        (MODULAR, [MAX, MAX, ZERO]),
        (MODULAR, [MAX, MAX, ONE]),
        (MODULAR, [MAX, MAX, MAX1]),
        (MODULAR, [MAX, MAX, B257]),
        (MODULAR, [MIN, TWO, ZERO]),
        (MODULAR, [MIN, TWO, ONE]),
        (MODULAR, [MIN, TWO, B255]),
        (MODULAR, [MIN, MIN, MAX]),
        (MODULAR, [MAX, ONE, SMAX]),
        (MODULAR, [U128, MAX, U128]),
        (COMPARISON, [MIN, SMAX, ZERO]),
        (COMPARISON, [SMAX, MIN, ZERO]),
        (COMPARISON, [MAX, ZERO, ZERO]),
        (COMPARISON, [ZERO, MAX, ZERO]),
        (COMPARISON, [MIN, MIN1, ZERO]),
        (COMPARISON, [MAX, MIN, ZERO]),
        (SHIFT, [B255, MIN, ZERO]),
        (SHIFT, [B255, MAX, ZERO]),
        (SHIFT, [B256, MAX, ZERO]),
        (SHIFT, [B256, MIN, ZERO]),
        (SHIFT, [B257, MIN1, ZERO]),
        (SHIFT, [B255, ONE, ZERO]),
        (SHIFT, [B256, ONE, ZERO]),
        (SHIFT, [P64, MAX, ZERO]),
        (SHIFT, [MINLO, MIN, ZERO]),
        (SHIFT, [MAX, MAX, ZERO]),
        (INDEX, [B31, MAX, ZERO]),
        (INDEX, [B32, MAX, ZERO]),
        (INDEX, [ZERO, X80, ZERO]),
        (INDEX, [ZERO, X7F, ZERO]),
        (INDEX, [B31, MIN, ZERO]),
        (INDEX, [P64, X80, ZERO]),
        (INDEX, [P64, MAX, ZERO]),
        (INDEX, [MAX, X80, ZERO]),
        (WRAPPING, [ZERO, ZERO, ZERO]),
        (WRAPPING, [TWO, B255, ZERO]),
        (WRAPPING, [TWO, B256, ZERO]),
        (WRAPPING, [B256, B32, ZERO]),
        (WRAPPING, [MAX, MAX, ZERO]),
        (WRAPPING, [MIN, TWO, ZERO]),
        (WRAPPING, [ZERO, ONE, ZERO]),
        (UNARY, [ZERO, ZERO, ZERO]),
        (UNARY, [ONE, ZERO, ZERO]),
        (UNARY, [MAX, ZERO, ZERO]),
        (UNARY, [MIN, ZERO, ZERO]),
    ]
};

/// Memory offsets and lengths at the edges of memory handling: word boundaries, the 1 KiB and
/// 4 KiB marks, and (the last quarter) values past 2^32 and 2^64 where offsets stop fitting in
/// the machine words clients convert them to. A zero-length range at any of them must cost
/// nothing; a non-zero one past 2^32 runs out of gas.
pub const OFFSET_EDGES: [U256; 20] = [
    U256::from_limbs([1, 0, 0, 0]),
    U256::from_limbs([31, 0, 0, 0]),
    U256::from_limbs([32, 0, 0, 0]),
    U256::from_limbs([33, 0, 0, 0]),
    U256::from_limbs([63, 0, 0, 0]),
    U256::from_limbs([64, 0, 0, 0]),
    U256::from_limbs([95, 0, 0, 0]),
    U256::from_limbs([96, 0, 0, 0]),
    U256::from_limbs([0x3ff, 0, 0, 0]),
    U256::from_limbs([0x400, 0, 0, 0]),
    U256::from_limbs([0x401, 0, 0, 0]),
    U256::from_limbs([0xfff, 0, 0, 0]),
    U256::from_limbs([0x1000, 0, 0, 0]),
    U256::from_limbs([0xffff, 0, 0, 0]),
    U256::from_limbs([0x1_0000, 0, 0, 0]),
    U256::from_limbs([0xffff_ffff, 0, 0, 0]),
    U256::from_limbs([0x1_0000_0000, 0, 0, 0]),
    U256::from_limbs([u64::MAX, 0, 0, 0]),
    U256::from_limbs([0, 1, 0, 0]),
    U256::MAX,
];

/// How many of [`OFFSET_EDGES`] (the first) are affordable.
pub const AFFORDABLE_EDGES: usize = 15;

/// The system contracts: beacon roots (EIP-4788), block hash history (EIP-2935), withdrawal
/// requests (EIP-7002) and consolidation requests (EIP-7251).
pub const SYSTEM_CONTRACTS: [Address; 4] = [
    address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02"),
    address!("0000F90827F1C53a10cb7A02335B175320002935"),
    address!("00000961Ef480Eb55e80D19ad83579A64c007002"),
    address!("0000BBdDc7CE488642fb579F8B00f3a590007251"),
];

/// The address of the pre-state's bare account `i`: 0 has only a balance, 1 only a nonce,
/// 2 only storage.
pub fn bare_address(i: u8) -> Address {
    let mut bytes = [0u8; 20];
    bytes[17] = 0xba;
    bytes[18] = 0x2e;
    bytes[19] = i % 3;
    Address::from(bytes)
}

/// The sender's key, the one ethereum/tests use (address 0xa94f5374...).
pub const SENDER_KEY: B256 = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");

/// The sender's address.
pub const SENDER: Address = address!("a94f5374fce5edbc8e2a8697c15331677e6ebf0b");

/// The block's fee recipient.
pub const COINBASE: Address = address!("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba");

/// Keys of the accounts that sign EIP-7702 authorizations.
pub const AUTHORITY_KEYS: [B256; 3] = [
    b256!("0000000000000000000000000000000000000000000000000000000000a1a1a1"),
    b256!("0000000000000000000000000000000000000000000000000000000000b2b2b2"),
    b256!("0000000000000000000000000000000000000000000000000000000000c3c3c3"),
];

/// The addresses of [`AUTHORITY_KEYS`].
pub fn authorities() -> &'static [Address; 3] {
    static ADDRESSES: OnceLock<[Address; 3]> = OnceLock::new();
    ADDRESSES.get_or_init(|| AUTHORITY_KEYS.map(|k| schism_interface::case::address_of_key(&k).unwrap_or(Address::ZERO)))
}

/// The address of generated contract `i`.
pub fn contract_address(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[17] = 0xc0;
    bytes[18] = 0xde;
    bytes[19] = i as u8;
    Address::from(bytes)
}

/// An address no account lives at.
pub fn empty_address(i: u8) -> Address {
    let mut bytes = [0xeeu8; 20];
    bytes[19] = i;
    Address::from(bytes)
}

/// A signature `(hash, v, r, s)` that ecrecover accepts, made once with the sender's key.
pub fn ecrecover_vector() -> &'static (B256, u8, B256, B256) {
    static VECTOR: OnceLock<(B256, u8, B256, B256)> = OnceLock::new();
    VECTOR.get_or_init(|| {
        let hash = keccak256(b"schism");
        let signed =
            k256::ecdsa::SigningKey::from_slice(SENDER_KEY.as_slice()).and_then(|key| key.sign_prehash_recoverable(hash.as_slice()));
        match signed {
            Ok((signature, recovery)) => {
                let bytes = signature.to_bytes();
                (hash, 27 + recovery.to_byte(), B256::from_slice(&bytes[..32]), B256::from_slice(&bytes[32..]))
            }
            Err(_) => (hash, 27, B256::ZERO, B256::ZERO),
        }
    })
}

/// The bn254 base field modulus.
pub const BN_P: U256 = U256::from_be_bytes(hex!("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47"));
/// The bn254 group order.
pub const BN_N: U256 = U256::from_be_bytes(hex!("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001"));

/// bn254 G1 points, 64 bytes each: infinity, the generator, its negation, 2G, and a point not on
/// the curve.
pub fn bn_g1(i: u8) -> [u8; 64] {
    let two_g_x = hex!("030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd3");
    let two_g_y = hex!("15ed738c0e0a7c92e7845f96b2ae9c0a68a6a449e3538fc7ff3ebf7a5a18a2c4");
    let mut out = [0u8; 64];
    match i % 5 {
        0 => {}
        1 => {
            out[31] = 1;
            out[63] = 2;
        }
        2 => {
            out[31] = 1;
            out[32..].copy_from_slice(&(BN_P - U256::from(2)).to_be_bytes::<32>());
        }
        3 => {
            out[..32].copy_from_slice(&two_g_x);
            out[32..].copy_from_slice(&two_g_y);
        }
        _ => {
            out[31] = 1;
            out[63] = 3;
        }
    }
    out
}

/// bn254 G2 points, 128 bytes each (x_im, x_re, y_im, y_re): infinity, the generator, its
/// negation.
pub fn bn_g2(i: u8) -> [u8; 128] {
    let x_im = hex!("198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2");
    let x_re = hex!("1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed");
    let y_im = U256::from_be_bytes(hex!("090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"));
    let y_re = U256::from_be_bytes(hex!("12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"));
    let mut out = [0u8; 128];
    if i.is_multiple_of(3) {
        return out;
    }
    let (y_im, y_re) = if i % 3 == 2 { (BN_P - y_im, BN_P - y_re) } else { (y_im, y_re) };
    out[..32].copy_from_slice(&x_im);
    out[32..64].copy_from_slice(&x_re);
    out[64..96].copy_from_slice(&y_im.to_be_bytes::<32>());
    out[96..].copy_from_slice(&y_re.to_be_bytes::<32>());
    out
}

type U384 = alloy_primitives::Uint<384, 6>;

/// The BLS12-381 base field modulus.
fn bls_p() -> U384 {
    U384::from_be_bytes(hex!("1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab"))
}

/// One BLS12-381 base field element in the 64-byte EIP-2537 encoding.
fn bls_fp(value: U384) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[16..].copy_from_slice(&value.to_be_bytes::<48>());
    out
}

/// BLS12-381 G1 points, 128 bytes each: infinity, the generator, its negation, and a point not on
/// the curve.
pub fn bls_g1(i: u8) -> [u8; 128] {
    let x = U384::from_be_bytes(hex!("17f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"));
    let y = U384::from_be_bytes(hex!("08b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1"));
    let mut out = [0u8; 128];
    let (x, y) = match i % 4 {
        0 => return out,
        1 => (x, y),
        2 => (x, bls_p() - y),
        _ => (x, x),
    };
    out[..64].copy_from_slice(&bls_fp(x));
    out[64..].copy_from_slice(&bls_fp(y));
    out
}

/// BLS12-381 G2 points, 256 bytes each (x.c0, x.c1, y.c0, y.c1): infinity, the generator, its
/// negation.
pub fn bls_g2(i: u8) -> [u8; 256] {
    let words = [
        hex!("024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"),
        hex!("13e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"),
        hex!("0ce5d527727d6e118cc9cdc6da2e351aadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca289e193548608b82801"),
        hex!("0606c4a02ea734cc32acd2b02bc28b99cb3e287e85a763af267492ab572e99ab3f370d275cec1da1aaa9075ff05f79be"),
    ]
    .map(|w| U384::from_be_bytes(w));
    let mut out = [0u8; 256];
    if i.is_multiple_of(3) {
        return out;
    }
    for (k, word) in words.iter().enumerate() {
        let value = if i % 3 == 2 && k >= 2 { bls_p() - *word } else { *word };
        out[k * 64..(k + 1) * 64].copy_from_slice(&bls_fp(value));
    }
    out
}

/// A base field element for the map-to-curve precompiles: below the modulus unless `raw` says so.
pub fn bls_field_element(raw: &[u8; 48], canonical: bool) -> [u8; 64] {
    let value = U384::from_be_bytes(*raw);
    bls_fp(if canonical { value % bls_p() } else { value })
}

/// A valid KZG point-evaluation input (the commitment to the zero polynomial, opened at 0), as
/// in execution-spec-tests' `point_evaluation_precompile` fixtures.
pub const KZG_VALID: [u8; 192] = hex!(
    "010657f37554c781402a22917dee2f75def7ab966d7b770905398eba3c444014"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "c00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "c00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
);

/// A valid P256VERIFY input (hash, r, s, x, y): the RIP-7212 reference vector.
pub const P256_VALID: [u8; 160] = hex!(
    "4cee90eb86eaa050036147a12d49004b6b9c72bd725d39d4785011fe190f0b4d"
    "a73bd4903f0ce3b639bbbf6e8e80d16931ff4bcf5993d58468e8fb19086e8cac"
    "36dbcd03009df8c59286b162af3bd7fcc0450c9aa81be5d10d312af6c66b1d60"
    "4aebd3099c618202fcfe16ae7770b0c49ab5eadf74b754204a3bb6060e44eff3"
    "7618b065f9832de4ca6ca971a7a1adc826d0f7c00181a5fb2ddf79ae00b4e10e"
);

/// The versioned hash of [`KZG_VALID`]'s commitment, for blob transactions.
pub const KZG_VERSIONED_HASH: B256 = b256!("010657f37554c781402a22917dee2f75def7ab966d7b770905398eba3c444014");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_name_the_words_they_mean() {
        let word = |i: u8| BOUNDARIES[usize::from(i)];
        let one = U256::from(1);
        assert_eq!(word(at::MIN), one << 255);
        assert_eq!(word(at::SMAX), (one << 255) - one);
        assert_eq!(word(at::MIN1), (one << 255) + one);
        assert_eq!(word(at::MINLO), (one << 255) + U256::from(u64::MAX));
        assert_eq!((word(at::MAX), word(at::MAX1)), (U256::MAX, U256::MAX - one));
        assert_eq!((word(at::P64), word(at::U128)), (one << 64, (one << 128) - one));
        let small = [(at::ZERO, 0u64), (at::ONE, 1), (at::TWO, 2), (at::B31, 31), (at::B32, 32), (at::B255, 255), (at::B256, 256)];
        for (i, v) in small.into_iter().chain([(at::B257, 257), (at::X7F, 0x7f), (at::X80, 0x80)]) {
            assert_eq!(word(i), U256::from(v));
        }
        // The hardest pair of all is there: -2^255 / -1 for SDIV.
        let sdiv = revm_bytecode::opcode::SDIV;
        assert!(COMBINATIONS.iter().any(|(ops, a)| ops.contains(&sdiv) && word(a[0]) == one << 255 && word(a[1]) == U256::MAX));
    }
}
