//! `cargo fuzz run fixture`: the fixture model. Even first bytes: the rest is a fixture file
//! (state test or blockchain test) loaded as `schism run` loads one, expanded into cases or
//! sequences (blocks decoded from their RLP). Odd first bytes: the rest is one block's RLP,
//! decoded as a blockchain test's `rlp` field is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schism_interface::alloy_primitives::hex;
use schism_interface::load::{FixtureFile, expand_file, parse_fixture};
use schism_interface::sequence::blockchain::{decode_block, sequences_of_file};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    if head & 1 == 1 {
        let _ = decode_block(&format!("0x{}", hex::encode(rest)));
        return;
    }
    let path = Path::new("fuzz.json");
    match parse_fixture(path, rest) {
        Ok(FixtureFile::State(file)) => {
            let _ = expand_file(path, &file);
        }
        Ok(FixtureFile::Blockchain(file)) => {
            let _ = sequences_of_file(path, &file);
        }
        Err(_) => {}
    }
});
