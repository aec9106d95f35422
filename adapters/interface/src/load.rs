//! Loading fixture files: recognise the format, parse with the path of any bad value, expand
//! into cases. A bad file yields an error naming it; it never stops the others.

use crate::case::{Case, expand};
use crate::error::{FixtureError, InvalidFixture, escape_pointer};
use crate::fixture::StateTestFile;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The formats a fixture file can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixtureFormat {
    /// `state_test`: env, pre, transaction, post per fork.
    StateTest,
    /// `blockchain_test`: genesis, blocks, post-state.
    BlockchainTest,
}

/// A parsed fixture file.
#[derive(Debug)]
pub enum FixtureFile {
    /// A state test file.
    State(StateTestFile),
    /// A blockchain test file.
    Blockchain(crate::sequence::blockchain::BlockchainTestFile),
}

/// Reads and parses one fixture file.
pub fn read_fixture(path: &Path) -> Result<FixtureFile, FixtureError> {
    let io = |source| FixtureError::Io { path: path.to_path_buf(), source };
    // Only a regular file of a sane size: a FIFO would block, a device never end.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    if meta.len() > MAX_FIXTURE_BYTES {
        let reason = format!("{} bytes, over the {MAX_FIXTURE_BYTES}-byte limit for a fixture file", meta.len());
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidData, reason)));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_fixture(path, &bytes)
}

/// Parses the bytes of a fixture file; `path` is used in errors only.
pub fn parse_fixture(path: &Path, bytes: &[u8]) -> Result<FixtureFile, FixtureError> {
    let json_error = |pointer: String, source| FixtureError::Json { path: path.to_path_buf(), pointer, source };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| json_error(String::new(), e))?;
    match detect(&value) {
        Some(FixtureFormat::StateTest) => {
            serde_path_to_error::deserialize::<_, StateTestFile>(value).map(FixtureFile::State).map_err(|e| {
                let pointer = pointer_of(e.path());
                json_error(pointer, e.into_inner())
            })
        }
        Some(FixtureFormat::BlockchainTest) => {
            serde_path_to_error::deserialize::<_, crate::sequence::blockchain::BlockchainTestFile>(value)
                .map(FixtureFile::Blockchain)
                .map_err(|e| {
                    let pointer = pointer_of(e.path());
                    json_error(pointer, e.into_inner())
                })
        }
        None => Err(FixtureError::Invalid { path: path.to_path_buf(), pointer: String::new(), reason: InvalidFixture::NotAFixture }),
    }
}

/// Tells the format from the first test's keys.
fn detect(value: &serde_json::Value) -> Option<FixtureFormat> {
    let first = value.as_object()?.values().next()?.as_object()?;
    if first.contains_key("blocks") || first.contains_key("genesisBlockHeader") {
        Some(FixtureFormat::BlockchainTest)
    } else if first.contains_key("transaction") || first.contains_key("post") || first.contains_key("env") {
        Some(FixtureFormat::StateTest)
    } else {
        None
    }
}

/// Converts serde_path_to_error's path to an RFC 6901 JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } => out.push_str(&escape_pointer(key)),
            Segment::Enum { variant } => out.push_str(&escape_pointer(variant)),
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// Every case of a parsed state test file, with the errors of entries that cannot expand.
pub fn expand_file(path: &Path, file: &StateTestFile) -> (Vec<Case>, Vec<FixtureError>) {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (name, test) in file {
        let (c, e) = expand(path, name, test);
        cases.extend(c);
        errors.extend(e);
    }
    (cases, errors)
}

/// The largest fixture file read (the biggest public fixture files are tens of megabytes).
pub const MAX_FIXTURE_BYTES: u64 = 512 << 20;

/// Every `.json` regular file under the given files and folders (recursively, hidden entries
/// skipped), sorted. Fails on the first path that cannot be listed; see
/// [`collect_fixture_files`] for a walk that goes on past unreadable entries.
pub fn collect_json_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FixtureError> {
    let (files, mut errors) = collect_fixture_files(paths);
    match errors.is_empty() {
        true => Ok(files),
        false => Err(errors.remove(0)),
    }
}

/// Every `.json` regular file under the given files and folders, sorted, and an error for each
/// path that cannot be used (missing, unreadable, not a regular file); the walk goes on past
/// them. FIFOs, devices and sockets are never read, whatever their name.
pub fn collect_fixture_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<FixtureError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut files, &mut errors),
            Ok(meta) if meta.is_file() => files.push(path.clone()),
            Ok(_) => errors.push(not_regular(path)),
            Err(source) => errors.push(FixtureError::Io { path: path.clone(), source }),
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

fn not_regular(path: &Path) -> FixtureError {
    FixtureError::Io { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file") }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<FixtureError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => return errors.push(FixtureError::Io { path: dir.to_path_buf(), source }),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(source) => {
                errors.push(FixtureError::Io { path: dir.to_path_buf(), source });
                continue;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Links are followed to what they name; only folders and regular files are used.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, out, errors),
            Ok(meta) if meta.is_file() && path.extension().is_some_and(|e| e == "json") => out.push(path),
            Ok(_) if path.extension().is_some_and(|e| e == "json") => errors.push(not_regular(&path)),
            Ok(_) => {}
            Err(source) => errors.push(FixtureError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
      "t": {
        "env": {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba", "currentDifficulty": "0x020000",
                "currentGasLimit": "0xff112233445566", "currentNumber": "0x01", "currentTimestamp": "0x03e8",
                "currentBaseFee": "0x0a"},
        "pre": {"0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b": {"balance": "0x0de0b6b3a7640000", "code": "0x", "nonce": "0x00", "storage": {}}},
        "transaction": {"data": ["0x", "0x01"], "gasLimit": ["0x061a80"], "gasPrice": "0x0a", "nonce": "0x00",
          "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8",
          "to": "", "value": ["0x00", "0x:bigint 0x10000000000000000000000000000000000000000000000000000000000000001"]},
        "post": {"Cancun": [{"hash": "0x1111111111111111111111111111111111111111111111111111111111111111",
                             "logs": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
                             "indexes": {"data": 1, "gas": 0, "value": 1}, "txbytes": "0x"}]}
      }
    }"#;

    #[test]
    fn reads_a_retesteth_style_file_and_expands_its_case() {
        let FixtureFile::State(file) = parse_fixture(Path::new("m.json"), MINIMAL.as_bytes()).expect("parses") else {
            panic!("not a state test")
        };
        let (cases, errors) = expand_file(Path::new("m.json"), &file);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cases.len(), 1);
        let case = &cases[0];
        assert_eq!(case.tx.to, None);
        assert_eq!(case.tx.data.as_ref(), &[1u8]);
        assert!(matches!(case.tx.value, crate::fixture::TxValue::Oversized(_)));
        assert_eq!(case.tx.sender, alloy_primitives::address!("a94f5374fce5edbc8e2a8697c15331677e6ebf0b"));
        assert_eq!(case.chain_id, 1);
    }

    #[test]
    fn a_bad_value_is_reported_with_file_and_pointer() {
        let bad = MINIMAL.replace(r#""currentNumber": "0x01""#, r#""currentNumber": "0xzz""#);
        let err = parse_fixture(Path::new("bad.json"), bad.as_bytes()).expect_err("must fail");
        match &err {
            FixtureError::Json { path, pointer, .. } => {
                assert_eq!(path, Path::new("bad.json"));
                assert_eq!(pointer, "/t/env/currentNumber");
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().starts_with("bad.json: at `/t/env/currentNumber`"));
    }

    #[test]
    fn an_out_of_range_index_is_an_error_and_the_rest_expand() {
        let bad = MINIMAL.replace(r#""indexes": {"data": 1"#, r#""indexes": {"data": 5"#);
        let FixtureFile::State(file) = parse_fixture(Path::new("b.json"), bad.as_bytes()).expect("parses") else {
            panic!("not a state test")
        };
        let (cases, errors) = expand_file(Path::new("b.json"), &file);
        assert!(cases.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("/t/post/Cancun/0/indexes"), "{}", errors[0]);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let err = parse_fixture(Path::new("x.json"), b"{ nope").expect_err("must fail");
        assert!(err.to_string().starts_with("x.json: at ``"), "{err}");
    }

    #[test]
    fn round_trips_through_the_writer() {
        let FixtureFile::State(file) = parse_fixture(Path::new("m.json"), MINIMAL.as_bytes()).expect("parses") else {
            panic!("not a state test")
        };
        let text = serde_json::to_string_pretty(&file).expect("serializes");
        let FixtureFile::State(again) = parse_fixture(Path::new("m.json"), text.as_bytes()).expect("re-parses") else {
            panic!("not a state test")
        };
        assert_eq!(file, again);
        let (cases, _) = expand_file(Path::new("m.json"), &file);
        let single = cases[0].to_state_test();
        let text = serde_json::to_string(&StateTestFile::from([("t".to_owned(), single)])).expect("serializes");
        let FixtureFile::State(back) = parse_fixture(Path::new("w.json"), text.as_bytes()).expect("re-parses") else {
            panic!("not a state test")
        };
        let (recases, errors) = expand_file(Path::new("w.json"), &back);
        assert!(errors.is_empty());
        assert_eq!(recases[0].tx, cases[0].tx);
        assert_eq!(recases[0].expected, cases[0].expected);
    }
}
