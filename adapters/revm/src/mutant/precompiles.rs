//! Replacement precompiles: each gets the fork's healthy precompile and departs from it only in
//! its mutant's edge case.

use super::Mutant;
use revm::precompile::{Precompile, PrecompileError, PrecompileHalt, PrecompileOutput, PrecompileResult, PrecompileSpecId, Precompiles};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, U256};
use std::cell::Cell;
use std::sync::OnceLock;

/// Precompile specs there are (`PrecompileSpecId` is a `u8` enum ending at `NEXT`).
const SPECS: usize = PrecompileSpecId::NEXT as usize + 1;

thread_local! {
    /// The precompile mutant planted on this thread's EVM and its fork: what [`trampoline`]
    /// dispatches to. A transaction runs on one thread, and `Mutant::plant` sets it first.
    static PLANTED: Cell<Option<(Mutant, PrecompileSpecId)>> = const { Cell::new(None) };
}

/// The precompile set of `spec` with the one at `address` replaced by `mutant`'s, built once
/// per mutant and spec.
pub(super) fn mutant_set(mutant: Mutant, address: u8, spec: SpecId) -> &'static Precompiles {
    static SETS: [[OnceLock<Precompiles>; SPECS]; Mutant::ALL.len()] = [const { [const { OnceLock::new() }; SPECS] }; Mutant::ALL.len()];
    let spec = PrecompileSpecId::from_spec_id(spec);
    PLANTED.set(Some((mutant, spec)));
    let healthy = Precompiles::new(spec);
    let Some(slot) = SETS.get(mutant as usize).and_then(|sets| sets.get(spec as usize)) else { return healthy };
    slot.get_or_init(|| {
        let mut set = healthy.clone();
        let address = Address::with_last_byte(address);
        // A precompile the fork does not have yet stays absent.
        if let Some(original) = healthy.get(&address) {
            set.extend([Precompile::new(original.id().clone(), address, trampoline)]);
        }
        set
    })
}

/// Every replaced precompile: runs the planted mutant's replacement with the fork's healthy
/// precompile at the same address.
fn trampoline(input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    let planted = PLANTED.get();
    let found = planted.and_then(|(mutant, spec)| {
        let super::Plant::Precompile(address, run) = mutant.row().plant else { return None };
        Some((run, Precompiles::new(spec).get(&Address::with_last_byte(address))?))
    });
    let Some((run, healthy)) = found else {
        return Err(PrecompileError::Fatal(format!("no precompile mutant planted on this thread ({planted:?})")));
    };
    run(input, gas_limit, reservoir, healthy)
}

/// `input[start..start + len]`, with the zeros a precompile reads past the input's end.
fn padded(input: &[u8], start: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let end = start.saturating_add(len).min(input.len());
    if let Some(present) = input.get(start.min(end)..end) {
        out[..present.len()].copy_from_slice(present);
    }
    out
}

/// A MODEXP input's three lengths (base, exponent, modulus), when each fits a `usize`.
fn modexp_lengths(input: &[u8]) -> Option<[usize; 3]> {
    let length = |at: usize| usize::try_from(U256::from_be_slice(&padded(input, at, 32))).ok();
    Some([length(0)?, length(32)?, length(64)?])
}

/// MODEXP that short-cuts a zero exponent to 1 without reducing it modulo the modulus.
pub(super) fn modexp_mod_one(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    let mut output = healthy.execute(input, gas_limit, reservoir)?;
    if output.is_success() && zero_power_mod_one(input) {
        let mut bytes = output.bytes.to_vec();
        if let Some(last) = bytes.last_mut() {
            *last = 1;
        }
        output.bytes = bytes.into();
    }
    Ok(output)
}

/// True when a MODEXP input asks for `b^0 mod 1` (inputs are implicitly right-padded with zeros).
fn zero_power_mod_one(input: &[u8]) -> bool {
    let Some([base_len, exp_len, mod_len]) = modexp_lengths(input) else { return false };
    let exp_start = 96usize.saturating_add(base_len);
    let mod_start = exp_start.saturating_add(exp_len);
    let exponent = present(input, exp_start, exp_len);
    let modulus = present(input, mod_start, mod_len);
    exponent.iter().all(|b| *b == 0)
        && modulus.len() == mod_len
        && modulus.split_last().is_some_and(|(last, rest)| *last == 1 && rest.iter().all(|b| *b == 0))
}

/// The bytes of `input[start..start + len]` that the input holds; the rest are implicit zeros.
fn present(input: &[u8], start: usize, len: usize) -> &[u8] {
    let end = start.saturating_add(len).min(input.len());
    input.get(start.min(end)..end).unwrap_or_default()
}

/// MODEXP that encodes the empty result of a zero-length modulus as one zero byte (a big-number
/// library's encoding of zero).
pub(super) fn modexp_zero_length_modulus(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    let mut output = healthy.execute(input, gas_limit, reservoir)?;
    if output.is_success() && modexp_lengths(input).is_some_and(|[_, _, mod_len]| mod_len == 0) {
        output.bytes = vec![0u8].into();
    }
    Ok(output)
}

/// ECRECOVER that reads v from its last byte alone: v's other 31 bytes are ignored.
pub(super) fn ecrecover_last_byte_v(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    let v = padded(input, 32, 32);
    if matches!(v[31], 27 | 28) && v[..31].iter().any(|b| *b != 0) {
        let mut cleaned = padded(input, 0, input.len().max(128));
        cleaned[32..63].fill(0);
        return healthy.execute(&cleaned, gas_limit, reservoir);
    }
    healthy.execute(input, gas_limit, reservoir)
}

/// RIPEMD-160 that returns the bare 20-byte hash.
pub(super) fn ripemd160_unpadded(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    let mut output = healthy.execute(input, gas_limit, reservoir)?;
    if output.is_success() && output.bytes.len() == 32 {
        output.bytes = output.bytes.slice(12..);
    }
    Ok(output)
}

/// The identity precompile's per-word gas.
const IDENTITY_PER_WORD: u64 = 3;

/// The identity precompile charging for whole words only: an input whose length is not a
/// multiple of 32 is charged one word less.
pub(super) fn identity_words_rounded_down(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    if input.len().is_multiple_of(32) {
        return healthy.execute(input, gas_limit, reservoir);
    }
    let mut output = healthy.execute(input, gas_limit.saturating_add(IDENTITY_PER_WORD), reservoir)?;
    if !output.is_success() {
        return healthy.execute(input, gas_limit, reservoir);
    }
    output.gas_used -= IDENTITY_PER_WORD;
    Ok(output)
}

/// BN254 ecAdd that takes the point at infinity, encoded (0, 0), for a point off the curve.
pub(super) fn ecadd_rejecting_infinity(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    let output = healthy.execute(input, gas_limit, reservoir)?;
    let infinity = |at: usize| padded(input, at, 64).iter().all(|b| *b == 0);
    if output.is_success() && (infinity(0) || infinity(64)) {
        return Ok(PrecompileOutput::halt(PrecompileHalt::Bn254AffineGFailedToCreate, reservoir));
    }
    Ok(output)
}

/// The length of a BLAKE2F input, and where its final-block flag is.
const BLAKE2F_INPUT: usize = 213;

/// BLAKE2F that takes any non-zero final-block flag for 1.
pub(super) fn blake2f_any_flag(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    if input.len() == BLAKE2F_INPUT && input[BLAKE2F_INPUT - 1] > 1 {
        let mut flagged = input.to_vec();
        flagged[BLAKE2F_INPUT - 1] = 1;
        return healthy.execute(&flagged, gas_limit, reservoir);
    }
    healthy.execute(input, gas_limit, reservoir)
}

/// A G1ADD input: two points of two 64-byte field elements, each 16 zero bytes and 48 value bytes.
const G1ADD_INPUT: usize = 256;

/// BLS12-381 G1ADD that skips each field element's 16 padding bytes without checking them.
pub(super) fn bls_g1add_ignoring_padding(input: &[u8], gas_limit: u64, reservoir: u64, healthy: &Precompile) -> PrecompileResult {
    if input.len() == G1ADD_INPUT && input.chunks(64).any(|element| element[..16].iter().any(|b| *b != 0)) {
        let mut cleaned = input.to_vec();
        for element in cleaned.chunks_mut(64) {
            element[..16].fill(0);
        }
        return healthy.execute(&cleaned, gas_limit, reservoir);
    }
    healthy.execute(input, gas_limit, reservoir)
}
