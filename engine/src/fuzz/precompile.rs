//! Precompiles as the fuzzer calls them: which a fork has, where they live, which are costly
//! enough to call less often, and the input a generated call passes each (well-formed from the
//! vectors in [`super::vectors`], or deliberately broken).

use super::vectors::{self, BOUNDARIES};
use alloy_primitives::{Address, U256};
use schism_interface::Fork;

/// The precompile addresses of a fork, in address order.
pub fn precompiles(fork: Fork) -> Vec<u16> {
    let mut out: Vec<u16> = (1..=4).collect();
    if fork >= Fork::Byzantium {
        out.extend(5..=8);
    }
    if fork >= Fork::Istanbul {
        out.push(9);
    }
    if fork >= Fork::Cancun {
        out.push(0x0a);
    }
    if fork >= Fork::Prague {
        out.extend(0x0b..=0x11);
    }
    if fork >= Fork::Osaka {
        out.push(0x100);
    }
    out
}

/// The address of a precompile.
pub fn precompile_address(id: u16) -> Address {
    let mut bytes = [0u8; 20];
    bytes[18..].copy_from_slice(&id.to_be_bytes());
    Address::from(bytes)
}

/// Precompiles that take a millisecond or more per call (pairings, KZG): chosen an eighth as
/// often as the others, so that throughput stays high while every precompile is still reached.
pub const EXPENSIVE: [u16; 3] = [0x08, 0x0a, 0x0f];

/// Precompiles chosen twice as often as the other cheap ones: MODEXP, whose three lengths,
/// zero and one operands and changing gas formula (EIP-198, EIP-2565, EIP-7883) hold more
/// edge cases than any other input.
pub const FAVOURED: [u16; 1] = [0x05];

/// The precompiles of `fork` a generated call picks from by default: every one but the
/// [`EXPENSIVE`] ones, the [`FAVOURED`] ones twice.
pub fn cheap_precompiles(fork: Fork) -> Vec<u16> {
    let all = precompiles(fork);
    let mut out: Vec<u16> = all.iter().copied().filter(|p| !EXPENSIVE.contains(p)).collect();
    out.extend(all.iter().copied().filter(|p| FAVOURED.contains(p)));
    out
}

/// The input a generated call passes precompile `id`: half of the variants (high bit clear)
/// give its well-formed forms (some of which are deliberately broken too, see
/// [`shaped_input`]), the other half one of those forms broken by [`malformed`]; so malformed
/// inputs come at least as often as well-formed ones.
pub fn precompile_input(id: u16, variant: u8, data: &[u8]) -> Vec<u8> {
    let shaped = shaped_input(id, variant & 0x7f, data);
    if variant & 0x80 == 0 { shaped } else { malformed(id, shaped, data) }
}

/// secp256k1's group order.
const SECP256K1_N: U256 = U256::from_be_bytes(alloy_primitives::hex!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));

/// Words at the edges of what precompiles validate: zero, one, the curve fields and orders
/// and their neighbours, half the secp256k1 order (the high-s boundary), the largest words.
fn edge_words() -> [U256; 14] {
    let one = U256::from(1);
    [
        U256::ZERO,
        one,
        SECP256K1_N - one,
        SECP256K1_N,
        SECP256K1_N + one,
        SECP256K1_N >> 1,
        (SECP256K1_N >> 1) + one,
        vectors::BN_P - one,
        vectors::BN_P,
        vectors::BN_P + one,
        vectors::BN_N,
        U256::from(u32::MAX),
        U256::from(u64::MAX),
        U256::MAX,
    ]
}

/// ecrecover's v at the edges of its range, by `kind`: three times in four 27 or 28 with
/// higher bits set (27 + 2^k for k from 8 to 255 by `k`, or every byte but the last all ones),
/// which a check of the last byte alone takes for valid; otherwise 0, 1, 26, 29, 35 or 36
/// (EIP-155's v), or an edge word.
fn signature_v(kind: u8, k: u8) -> U256 {
    let base = U256::from(27 + u64::from(kind % 2));
    match (kind / 2) % 8 {
        0..=3 => base + (U256::from(1) << (8 + usize::from(k) % 248)),
        4..=5 => (U256::MAX << 8) | base,
        6 => U256::from([0u64, 1, 26, 29, 35, 36][usize::from(k) % 6]),
        _ => edge_words()[usize::from(k) % edge_words().len()],
    }
}

/// An ecrecover r or s at the edge of its range: zero, one, the secp256k1 order and its
/// neighbours, half the order and one more (the high-s boundary), the sign bit, the largest word.
fn signature_scalar(k: u8) -> U256 {
    let one = U256::from(1);
    let edges = [
        U256::ZERO,
        one,
        SECP256K1_N - one,
        SECP256K1_N,
        SECP256K1_N + one,
        SECP256K1_N >> 1,
        (SECP256K1_N >> 1) + one,
        one << 255,
        U256::MAX,
    ];
    edges[usize::from(k) % edges.len()]
}

/// `input` broken the way precompile input checks are tested: per precompile, a field set to
/// the edge of its range (ecrecover's v, r and s; MODEXP's lengths up to overflow; curve
/// coordinates at and past the field modulus, the point at infinity; BLAKE2F's rounds and
/// final-block flag; BLS field elements with their top bytes set); or, for any precompile, one
/// byte too few or many, a word replaced by an edge value, a flipped bit, no input at all, 1 to
/// 96 bytes of anything, all zeros.
pub fn malformed(id: u16, mut input: Vec<u8>, data: &[u8]) -> Vec<u8> {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0x5a ^ i as u8);
    let edges = edge_words();
    let edge = |i: usize| edges[usize::from(byte(i)) % edges.len()].to_be_bytes::<32>();
    let set_word = |input: &mut Vec<u8>, at: usize, word: [u8; 32]| {
        if input.len() < at + 32 {
            input.resize(at + 32, 0);
        }
        input[at..at + 32].copy_from_slice(&word);
    };
    let pick = byte(0);
    // ecrecover checks nothing but its fields: three quarters of its broken inputs break one.
    let field = if id == 1 { pick % 4 != 3 } else { pick % 2 == 0 };
    if field {
        match id {
            1 => {
                // v half of the time, otherwise r or s, each at an edge of its range.
                match byte(1) % 4 {
                    0 | 1 => set_word(&mut input, 32, signature_v(byte(2), byte(3)).to_be_bytes()),
                    k => set_word(&mut input, 32 * usize::from(k), signature_scalar(byte(2)).to_be_bytes()),
                }
                return input;
            }
            5 if byte(2) % 4 == 0 => {
                // The input ends inside a length word, after 1 to 31 of its bytes (not all
                // zero): a reader that does not pad it with zeros on the right (as the EIP
                // says) reads a small length where the padded one is huge
                // (@ethereumjs/evm 2.1.0's short-input bug, issue 3204).
                // Mostly 1 to 3 bytes, so that the unpadded reading is small enough to afford.
                let word = usize::from(byte(1) % 3);
                let kept = if byte(3) % 4 == 0 { usize::from(byte(3) / 4 % 31) + 1 } else { usize::from(byte(3) % 3) + 1 };
                input.resize(32 * word, 0);
                input.extend((0..kept).map(|i| byte(4 + i)));
                if input[32 * word..].iter().all(|b| *b == 0) {
                    input[32 * word] = 1;
                }
                return input;
            }
            5 => {
                // A length field at an edge (zero, huge, overflowing).
                let lengths = [0u64, 1, 32, 1024, 1025, u64::from(u32::MAX), u64::MAX];
                let word = if byte(2) % 3 == 0 { edge(3) } else { U256::from(lengths[usize::from(byte(3)) % lengths.len()]).to_be_bytes() };
                set_word(&mut input, 32 * usize::from(byte(1) % 3), word);
                return input;
            }
            6..=8 if !input.is_empty() => {
                // A coordinate at or past the field modulus, or a point set to infinity.
                let words = input.len() / 32;
                let at = usize::from(byte(1)) % words.max(1);
                if byte(2) % 3 == 0 {
                    let start = 32 * (at - at % 2);
                    set_word(&mut input, start, [0; 32]);
                    set_word(&mut input, start + 32, [0; 32]);
                } else {
                    set_word(&mut input, 32 * at, edge(3));
                }
                return input;
            }
            9 if input.len() >= 213 => {
                // Rounds at the edges, or a final-block flag other than 0 and 1.
                if byte(1) % 2 == 0 {
                    let rounds = [0u32, 1, 12, 0xffff, u32::MAX];
                    input[..4].copy_from_slice(&rounds[usize::from(byte(2)) % rounds.len()].to_be_bytes());
                } else {
                    input[212] = [2u8, 0x80, 0xff, 0x10][usize::from(byte(2)) % 4];
                }
                return input;
            }
            0x0b..=0x11 if input.len() >= 64 => {
                // A 64-byte field element with its padding set (not canonical), or at p.
                let elements = input.len() / 64;
                let at = 64 * (usize::from(byte(1)) % elements);
                input[at] = [1u8, 0x1a, 0xff][usize::from(byte(2)) % 3];
                return input;
            }
            _ => {}
        }
    }
    // Bits 2 and up: independent of the bits that chose a field-level break above.
    match (pick >> 2) % 7 {
        0 => {
            let cut = (usize::from(byte(1)) % 32 + 1).min(input.len());
            input.truncate(input.len() - cut);
        }
        1 => input.extend((0..usize::from(byte(1)) % 32 + 1).map(|i| byte(2 + i))),
        2 => input.clear(),
        3 if input.len() >= 32 => {
            let at = 32 * (usize::from(byte(1)) % (input.len() / 32));
            set_word(&mut input, at, edge(2));
        }
        4 if !input.is_empty() => {
            let at = usize::from(byte(1)) % input.len();
            input[at] ^= 1 << (byte(2) % 8);
        }
        // No shape at all: 1 to 96 bytes of anything, so a header (MODEXP's three length
        // words) ends inside a word whose kept bytes are not zero.
        5 => input = (0..usize::from(byte(1)) % 96 + 1).map(|i| byte(2 + i)).collect(),
        _ => input.iter_mut().for_each(|b| *b = 0),
    }
    input
}

/// A well-formed (or, by `variant`, deliberately broken) input for precompile `id`.
pub fn shaped_input(id: u16, variant: u8, data: &[u8]) -> Vec<u8> {
    let byte = |i: usize| data.get(i).copied().unwrap_or(i as u8);
    let word = |i: usize| -> [u8; 32] { std::array::from_fn(|k| byte(i * 32 + k)) };
    let broken = variant % 8 == 7;
    match id {
        1 => {
            let (hash, v, r, s) = *vectors::ecrecover_vector();
            let mut out = Vec::with_capacity(128);
            out.extend_from_slice(if variant % 8 == 6 { &data[..data.len().min(32)] } else { hash.as_slice() });
            out.resize(32, 0);
            let mut v_word = [0u8; 32];
            v_word[31] = if broken { 29 } else { v };
            if variant % 8 == 4 {
                // v at an edge of its range (half of the time 27 or 28 with higher bits set).
                v_word = signature_v(byte(0), byte(1)).to_be_bytes();
            }
            out.extend_from_slice(&v_word);
            out.extend_from_slice(r.as_slice());
            out.extend_from_slice(if variant % 8 == 5 { &[0xffu8; 32][..] } else { s.as_slice() });
            out
        }
        2..=4 => data.to_vec(),
        5 => {
            let lens = match variant % 8 {
                0 => [1, 1, 1],
                1 => [32, 32, 32],
                2 => [0, 0, 32],
                3 => [usize::from(byte(0) % 65), usize::from(byte(1) % 65), usize::from(byte(2) % 65)],
                4 => [16, 64, 16],
                5 => [32, 1, 1],
                6 => [1, 33, 1],
                _ => [0x1_0000, 32, 32],
            };
            let mut out = Vec::new();
            for len in lens {
                out.extend_from_slice(&U256::from(len).to_be_bytes::<32>());
            }
            let body = lens[0].min(256) + lens[1] + lens[2];
            out.extend((0..body).map(|i| byte(3 + i)));
            if variant % 8 == 5 {
                // Modulus 1 (every result is 0), with a zero exponent three times in four
                // (`b^0 = 1` short-cut without the reduction), a third of those by an empty
                // exponent.
                let len = out.len();
                out[len - 1] = 1;
                match byte(0) % 12 {
                    0..=5 => out[len - 2] = 0,
                    6..=8 => {
                        out[63] = 0;
                        out.remove(len - 2);
                    }
                    _ => {}
                }
            }
            out
        }
        6 => [vectors::bn_g1(variant), vectors::bn_g1(byte(0))].concat(),
        7 => {
            let scalar = match byte(0) % 4 {
                0 => vectors::BN_N.to_be_bytes::<32>(),
                1 => BOUNDARIES[usize::from(byte(1)) % BOUNDARIES.len()].to_be_bytes::<32>(),
                _ => word(1),
            };
            [&vectors::bn_g1(variant)[..], &scalar[..]].concat()
        }
        8 => {
            let pairs = usize::from(variant % 4);
            let mut out = Vec::new();
            for k in 0..pairs {
                let g1 = if pairs == 2 { vectors::bn_g1(k as u8 + 1) } else { vectors::bn_g1(byte(k)) };
                let g2 = if pairs == 2 { vectors::bn_g2(1) } else { vectors::bn_g2(byte(k + 4)) };
                out.extend_from_slice(&g1);
                out.extend_from_slice(&g2);
            }
            if broken {
                out.pop();
            }
            out
        }
        9 => {
            let rounds: u32 = match variant % 4 {
                0 => 0,
                1 => 1,
                2 => 12,
                _ => u32::from(u16::from_be_bytes([byte(0), byte(1)]) % 2048),
            };
            let mut out = rounds.to_be_bytes().to_vec();
            out.extend((0..208).map(|i| byte(2 + i)));
            out.push(byte(210) % 3);
            if broken {
                out.pop();
            }
            out
        }
        0x0a => {
            let mut out = vectors::KZG_VALID.to_vec();
            if variant % 4 == 3 {
                let at = usize::from(byte(0)) % out.len();
                out[at] ^= 1 << (byte(1) % 8);
            }
            out
        }
        0x0b => [vectors::bls_g1(variant), vectors::bls_g1(byte(0))].concat(),
        0x0c => {
            let mut out = Vec::new();
            for k in 0..usize::from(variant % 3) + 1 {
                out.extend_from_slice(&vectors::bls_g1(byte(k) % 3));
                out.extend_from_slice(&word(k + 1));
            }
            out
        }
        0x0d => [vectors::bls_g2(variant), vectors::bls_g2(byte(0))].concat(),
        0x0e => {
            let mut out = Vec::new();
            for k in 0..usize::from(variant % 2) + 1 {
                out.extend_from_slice(&vectors::bls_g2(byte(k)));
                out.extend_from_slice(&word(k + 1));
            }
            out
        }
        0x0f => {
            let pairs = usize::from(variant % 3) + 1;
            let mut out = Vec::new();
            for k in 0..pairs {
                let (g1, g2) = if pairs == 2 {
                    (vectors::bls_g1(k as u8 + 1), vectors::bls_g2(1))
                } else {
                    (vectors::bls_g1(byte(k) % 3), vectors::bls_g2(byte(k + 3)))
                };
                out.extend_from_slice(&g1);
                out.extend_from_slice(&g2);
            }
            out
        }
        0x10 | 0x11 => {
            let elements = if id == 0x10 { 1 } else { 2 };
            let mut out = Vec::new();
            for k in 0..elements {
                let raw: [u8; 48] = std::array::from_fn(|i| byte(k * 48 + i));
                out.extend_from_slice(&vectors::bls_field_element(&raw, !broken));
            }
            out
        }
        0x100 => {
            let mut out = vectors::P256_VALID.to_vec();
            if variant % 4 == 3 {
                let at = usize::from(byte(0)) % out.len();
                out[at] ^= 1 << (byte(1) % 8);
            }
            out
        }
        _ => data.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_the_variants_are_malformed_and_every_precompile_breaks() {
        let data: Vec<u8> = (0..160u8).collect();
        for id in precompiles(Fork::Osaka) {
            let mut broken = 0;
            for variant in 0..=255u8 {
                let input = precompile_input(id, variant, &data);
                if variant & 0x80 == 0 {
                    assert_eq!(input, shaped_input(id, variant, &data));
                } else {
                    broken += usize::from(input != shaped_input(id, variant & 0x7f, &data));
                }
            }
            // Malformed variants differ from their well-formed form, but for those whose form
            // is empty already (the pairing check with no pairs, a quarter of its variants) or
            // that draw the value already there.
            assert!(broken >= 90, "{id:#x}: {broken} of 128 malformed variants differ");
        }
        let mut kinds = std::collections::BTreeSet::new();
        for first in 0..=255u8 {
            let data: Vec<u8> = std::iter::once(first).chain(1..64).collect();
            kinds.insert(malformed(1, shaped_input(1, 0, &data), &data).len());
        }
        // Cleared, edited in place, cut short and run long.
        let (short, long) = (kinds.iter().any(|l| (1..128).contains(l)), kinds.iter().any(|l| *l > 128));
        assert!(kinds.contains(&0) && kinds.contains(&128) && short && long, "ecrecover lengths: {kinds:?}");
    }

    #[test]
    fn ecrecover_signatures_take_their_boundary_values() {
        // Over every choice of the bytes that pick the field and its value: v with higher bits
        // set and v = 27 or 28 exactly in its last byte (a check of the last byte alone takes it
        // for valid), r and s at zero, n - 1, n and past it.
        let n = SECP256K1_N;
        let (mut high_v, mut widths, mut scalars) = (0, std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for (first, second) in (0..=255u8).flat_map(|a| (0..=255u8).step_by(7).map(move |b| (a, b))) {
            let data: Vec<u8> = [first, second, second.wrapping_mul(3), second ^ first].into_iter().chain(4..64).collect();
            let input = malformed(1, shaped_input(1, 0, &data), &data);
            if input.len() != 128 {
                continue;
            }
            let v = U256::from_be_slice(&input[32..64]);
            if matches!(input[63], 27 | 28) && v > U256::from(28) {
                high_v += 1;
                widths.insert(v.bit_len());
            }
            scalars.insert(U256::from_be_slice(&input[64..96]));
            scalars.insert(U256::from_be_slice(&input[96..128]));
        }
        assert!(high_v > 256 * 37 / 10, "v with higher bits set in one malformed input of ten at least ({high_v})");
        assert!(widths.contains(&9) && widths.contains(&256) && widths.len() > 100, "27 + 2^k for many k: {widths:?}");
        for edge in [U256::ZERO, n - U256::from(1), n, n + U256::from(1), U256::MAX] {
            assert!(scalars.contains(&edge), "r or s = {edge:#x}");
        }
    }

    #[test]
    fn precompiles_follow_the_forks() {
        assert_eq!(precompiles(Fork::Frontier), vec![1, 2, 3, 4]);
        assert_eq!(precompiles(Fork::Cancun).len(), 10);
        assert_eq!(precompiles(Fork::Prague).len(), 17);
        assert_eq!(precompiles(Fork::Osaka).last(), Some(&0x100));
    }

    /// Every precompile strategy's well-formed form is accepted by revm (so the constants, the
    /// curve points and signature vectors, are right).
    #[cfg(feature = "revm")]
    #[test]
    fn well_formed_precompile_inputs_succeed_on_revm() {
        use crate::fuzz::compile::compile;
        use crate::fuzz::program::{Blueprint, CallKind, Contract, Gas, Input, Leaf, Piece, Target, Value};
        use schism_interface::{Client, TraceMode};
        let fork = Fork::Osaka;
        let all = precompiles(fork);
        let mut failures = Vec::new();
        for id in &all {
            let i = all.iter().position(|p| p == id).unwrap_or(0) as u8 * 8;
            // Variants known to be valid: 0 everywhere except the pairing checks, whose valid
            // form is two pairs.
            let variant = match id {
                8 => 2,
                0x0f => 1,
                _ => 0,
            };
            let call = Leaf::Call {
                kind: CallKind::StaticCall,
                target: Target::Precompile(i),
                gas: Gas::All,
                value: Value::Small(0),
                input: Input::Shaped { variant, data: (0..160u8).collect() },
                memory: None,
            };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 7;
            blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program: vec![Piece::Leaf(call)] }];
            let case = compile(&blueprint, fork);
            // The call's success flag: the top of the stack at the first top-level instruction
            // after it (results are folded together in storage).
            let trace = schism_revm::Revm::new().execute(&case, TraceMode::Steps).expect("executes").trace.unwrap_or_default();
            let top: Vec<_> = trace.iter().filter(|s| s.depth == 1).collect();
            let after = top.iter().position(|s| s.op == revm_bytecode::opcode::STATICCALL).and_then(|i| top.get(i + 1));
            let success = after.and_then(|s| s.stack.last().copied());
            if success != Some(U256::from(1)) {
                failures.push(format!("{id:#x}"));
            }
        }
        assert!(failures.is_empty(), "precompiles rejecting their well-formed input: {failures:?}");
    }

    /// Some broken MODEXP inputs end inside one of the three length words with a non-zero byte
    /// kept, after whole length words that are small (@ethereumjs/evm 2.1.0 read such a word
    /// without padding it: issue 3204; with the words before it affordable, the call runs on
    /// such a reader and runs out of gas on a correct one).
    #[test]
    fn some_broken_modexp_inputs_end_inside_a_length_word() {
        let well_formed = precompile_input(5, 1, &[7u8; 64]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let cut_inside = (0..4000)
            .filter(|_| {
                let data: Vec<u8> = (0..160)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    })
                    .collect();
                let input = malformed(5, well_formed.clone(), &data);
                let partial = input.len() % 32;
                let whole = &input[..input.len() - partial];
                input.len() < 96
                    && partial != 0
                    && input[whole.len()..].iter().any(|b| *b != 0)
                    && whole.chunks(32).all(|w| U256::from_be_slice(w) < U256::from(1u64 << 16))
            })
            .count();
        // Half of the breaks are field-level, a quarter of those cut a length word.
        assert!(cut_inside > 400, "{cut_inside} of 4000");
    }

    /// The modulus-1 form of MODEXP's input asks for `b^0 mod 1` three times in four.
    #[test]
    fn the_modexp_modulus_one_form_is_zero_power_mod_one() {
        let even = precompile_input(5, 5, &[0u8; 64]);
        assert_eq!(&even[..96], &[[0u8; 31].as_slice(), &[32], &[0u8; 31], &[1], &[0u8; 31], &[1]].concat()[..]);
        assert_eq!(even.len(), 96 + 34);
        assert_eq!(even[96 + 32], 0, "zero exponent");
        assert_eq!(even[96 + 33], 1, "modulus 1");
    }

    /// Of the modulus-1 forms, three in four have a zero exponent, a third of those an empty
    /// one; and MODEXP is picked twice as often as any other cheap precompile.
    #[test]
    fn the_modexp_modulus_one_form_mostly_has_a_zero_exponent() {
        let (mut zero, mut empty) = (0, 0);
        for b in 0..=255u8 {
            let input = precompile_input(5, 5, &[b; 64]);
            let exp_len = U256::from_be_slice(&input[32..64]);
            assert_eq!(input.last(), Some(&1), "modulus 1");
            if exp_len.is_zero() {
                empty += 1;
                assert_eq!(input.len(), 96 + 33);
            } else if input[input.len() - 2] == 0 {
                zero += 1;
            }
        }
        // 256 = 21 * 12 + 4: the first four residues come once more.
        assert_eq!((zero, empty), (130, 63));
        let cheap = cheap_precompiles(Fork::Osaka);
        assert_eq!(cheap.iter().filter(|p| **p == 5).count(), 2);
        assert_eq!(cheap.iter().filter(|p| **p == 4).count(), 1);
        assert!(!cheap.iter().any(|p| EXPENSIVE.contains(p)));
    }

    /// The generated modulus-one MODEXP input shows the `precompile-output` canary.
    #[cfg(feature = "revm")]
    #[test]
    fn the_modexp_modulus_one_form_shows_the_precompile_output_canary() {
        use crate::fuzz::compile::compile;
        use crate::fuzz::program::{Blueprint, CallKind, Contract, Gas, Input, Leaf, Piece, Target, Value};
        use schism_interface::{Client, TraceMode};
        for fork in [Fork::Cancun, Fork::Osaka] {
            let i = precompiles(fork).iter().position(|p| *p == 5).unwrap_or(0) as u8 * 8;
            let input = Input::Shaped { variant: 5, data: vec![0u8; 64] };
            let call = Leaf::Call {
                kind: CallKind::StaticCall,
                target: Target::Precompile(i),
                gas: Gas::All,
                value: Value::Small(0),
                input,
                memory: None,
            };
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 3;
            blueprint.contracts = vec![Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program: vec![Piece::Leaf(call)] }];
            let case = compile(&blueprint, fork);
            let a = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
            let b = schism_revm::MutantRevm::new(schism_revm::Mutant::PrecompileOutput).execute(&case, TraceMode::Off).expect("executes");
            assert_ne!(a.state_root, b.state_root, "{fork}");
        }
    }
}
