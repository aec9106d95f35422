//! Cases: the unit of execution. A state test case is one fork x one (data, gas, value) index of
//! a state test, with everything a client needs resolved and typed.

use crate::error::{FixtureError, InvalidFixture};
use crate::fixture::{
    AccessList, Accounts, Authorization, BlobParams, Config, Env, Indexes, PostEntry, StateTest, TransactionTemplate, TxValue,
};
use crate::fork::Fork;
use crate::outcome::ExpectedException;
use alloy_primitives::{Address, B256, Bytes, U256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One fork x one transaction over one pre-state and block environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The file it came from (or a generator's label).
    pub file: Arc<str>,
    /// The test name inside the file.
    pub test: Arc<str>,
    /// The fork to execute under.
    pub fork: Fork,
    /// Which alternatives of the test's transaction template this case is.
    pub index: Indexes,
    /// The block environment.
    pub env: Arc<Env>,
    /// The pre-state.
    pub pre: Arc<Accounts>,
    /// The transaction.
    pub tx: Transaction,
    /// The chain id (config `chainid`, 1 when absent).
    pub chain_id: u64,
    /// Blob parameters of the fork (config `blobSchedule`, else the fork's defaults).
    pub blob_params: Option<BlobParams>,
    /// What the fixture expects, when the case comes from a filled fixture.
    pub expected: Option<Expectation>,
    /// Hashes of earlier blocks by number when the case is a transaction of a block sequence;
    /// `None` for a state test, whose BLOCKHASH follows the state-test convention.
    pub block_hashes: Option<Arc<BTreeMap<u64, B256>>>,
}

/// The transaction of a case, one alternative of each indexed field chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The envelope type the fields imply.
    pub kind: TxKind,
    /// Sender nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Recipient, `None` for contract creation.
    pub to: Option<Address>,
    /// Value transferred.
    pub value: TxValue,
    /// Call data or init code.
    pub data: Bytes,
    /// Legacy / EIP-2930 gas price.
    pub gas_price: Option<U256>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<U256>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<U256>,
    /// EIP-2930 access list.
    pub access_list: AccessList,
    /// EIP-4844 blob fee cap.
    pub max_fee_per_blob_gas: Option<U256>,
    /// EIP-4844 versioned hashes.
    pub blob_versioned_hashes: Vec<B256>,
    /// EIP-7702 authorizations.
    pub authorization_list: Vec<Authorization>,
    /// The sender's private key.
    pub secret_key: B256,
    /// The sender, derived from `secret_key`.
    pub sender: Address,
}

impl Transaction {
    /// The gas price the sender pays per gas before the base fee split: `gasPrice`, else the
    /// fee cap.
    pub fn fee_cap(&self) -> U256 {
        self.gas_price.or(self.max_fee_per_gas).unwrap_or_default()
    }

    /// The rejection the transaction's own encoding implies, before any client looks at it:
    /// a value above 2^256 cannot be RLP-decoded, and blob and set-code envelopes have no
    /// contract-creation form. Every adapter applies this first, so clients whose API could
    /// represent such a transaction anyway are judged on what a network would deliver.
    pub fn envelope_violation(&self) -> Option<crate::outcome::InvalidTxKind> {
        use crate::outcome::InvalidTxKind;
        match (&self.value, self.kind, self.to) {
            (TxValue::Oversized(_), _, _) => Some(InvalidTxKind::RlpInvalidValue),
            (_, TxKind::Blob, None) => Some(InvalidTxKind::Type3ContractCreation),
            (_, TxKind::SetCode, None) => Some(InvalidTxKind::Type4ContractCreation),
            _ => None,
        }
    }
}

/// The transaction envelope type (EIP-2718).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxKind {
    /// Type 0.
    Legacy,
    /// Type 1, EIP-2930.
    AccessList,
    /// Type 2, EIP-1559.
    Eip1559,
    /// Type 3, EIP-4844.
    Blob,
    /// Type 4, EIP-7702.
    SetCode,
}

impl TxKind {
    /// The EIP-2718 type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            TxKind::Legacy => 0,
            TxKind::AccessList => 1,
            TxKind::Eip1559 => 2,
            TxKind::Blob => 3,
            TxKind::SetCode => 4,
        }
    }
}

/// What a filled fixture expects of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// Expected post-state root.
    pub hash: B256,
    /// Expected logs hash.
    pub logs: B256,
    /// Expected rejection, if the transaction is invalid.
    pub exception: Option<ExpectedException>,
    /// Expected full post-state, where the fixture carries it.
    pub state: Option<Arc<Accounts>>,
    /// The signed transaction as filled.
    pub txbytes: Option<Bytes>,
}

impl Case {
    /// Why no chain can reach this case, if none can (an excess blob gas whose fee is beyond
    /// 256 bits, see [`BlobParams::unreachable_excess`]): refused before any client runs.
    pub fn unreachable(&self) -> Option<String> {
        if self.fork < Fork::Cancun {
            return None;
        }
        let params = self.blob_params.or_else(|| default_blob_params(self.fork))?;
        params.unreachable_excess(self.env.current_excess_blob_gas.unwrap_or(0))
    }

    /// What BLOCKHASH answers for `number` (the EVM checks the 256-block window first): the
    /// sequence's hash of that block, or, in a state test, keccak256 of the decimal number (the
    /// convention of geth's, revm's and ethrex's state-test runners and the fillers).
    pub fn block_hash(&self, number: u64) -> B256 {
        match &self.block_hashes {
            Some(hashes) => hashes.get(&number).copied().unwrap_or_default(),
            None => alloy_primitives::keccak256(number.to_string().as_bytes()),
        }
    }

    /// A readable, unique label: `file::test[fork data/gas/value]`.
    pub fn label(&self) -> String {
        format!("{}::{}[{} d{}/g{}/v{}]", self.file, self.test, self.fork, self.index.data, self.index.gas, self.index.value)
    }

    /// True when the pre-state holds an account with storage but neither code nor nonce: the
    /// only setting in which EIP-7610's storage check on CREATE targets decides anything (such
    /// accounts cannot arise on mainnet; several clients do not check).
    pub fn has_storage_only_account(&self) -> bool {
        self.pre.values().any(|a| a.nonce == 0 && a.code.is_empty() && a.storage.values().any(|v| !v.is_zero()))
    }

    /// Writes the case back out as a single-case state test (one alternative per indexed field),
    /// with its expectation as the `post` entry when it has one.
    pub fn to_state_test(&self) -> StateTest {
        let tx = &self.tx;
        let mut post = BTreeMap::new();
        if let Some(expected) = &self.expected {
            post.insert(
                self.fork,
                vec![PostEntry {
                    hash: expected.hash,
                    logs: expected.logs,
                    indexes: Indexes::default(),
                    txbytes: expected.txbytes.clone(),
                    expect_exception: expected.exception.as_ref().map(|e| e.raw.clone()),
                    state: expected.state.as_deref().cloned(),
                }],
            );
        }
        StateTest {
            info: None,
            env: (*self.env).clone(),
            pre: (*self.pre).clone(),
            transaction: TransactionTemplate {
                data: vec![tx.data.clone()],
                gas_limit: vec![tx.gas_limit],
                value: vec![tx.value.clone()],
                nonce: tx.nonce,
                to: tx.to,
                gas_price: tx.gas_price,
                max_fee_per_gas: tx.max_fee_per_gas,
                max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                access_lists: (tx.kind != TxKind::Legacy).then(|| vec![Some(tx.access_list.clone())]),
                max_fee_per_blob_gas: tx.max_fee_per_blob_gas,
                blob_versioned_hashes: (tx.kind == TxKind::Blob).then(|| tx.blob_versioned_hashes.clone()),
                authorization_list: (tx.kind == TxKind::SetCode).then(|| tx.authorization_list.clone()),
                sender: Some(tx.sender),
                secret_key: tx.secret_key,
            },
            post,
            config: Some(Config {
                blob_schedule: self.blob_params.map(|p| BTreeMap::from([(self.fork.name().to_owned(), p)])),
                chainid: Some(self.chain_id),
            }),
        }
    }
}

/// The blob parameters a fork has when a fixture's config does not say (EIP-4844, EIP-7691).
pub fn default_blob_params(fork: Fork) -> Option<BlobParams> {
    match fork {
        f if f < Fork::Cancun => None,
        Fork::Cancun => Some(BlobParams { target: 3, max: 6, base_fee_update_fraction: 3_338_477 }),
        _ => Some(BlobParams { target: 6, max: 9, base_fee_update_fraction: 5_007_716 }),
    }
}

/// Derives the address of a secp256k1 private key (once per thread: see [`crate::keys`]).
pub fn address_of_key(secret_key: &B256) -> Option<Address> {
    crate::keys::address_of_key(secret_key)
}

/// Expands every case of a state test. Entries that cannot be expanded are returned as errors
/// naming the file and JSON pointer; the others still expand.
pub fn expand(file: &Path, name: &str, test: &StateTest) -> (Vec<Case>, Vec<FixtureError>) {
    let file_label: Arc<str> = Arc::from(file.display().to_string());
    let test_name: Arc<str> = Arc::from(name);
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let invalid = |pointer: String, reason: InvalidFixture| FixtureError::Invalid { path: file.to_path_buf(), pointer, reason };
    let pointer_base = format!("/{}", crate::error::escape_pointer(name));
    let template = &test.transaction;
    let Some(sender) = address_of_key(&template.secret_key) else {
        errors.push(invalid(format!("{pointer_base}/transaction/secretKey"), InvalidFixture::BadSecretKey));
        return (cases, errors);
    };
    if let Some(given) = template.sender.filter(|given| *given != sender) {
        errors.push(invalid(format!("{pointer_base}/transaction/sender"), InvalidFixture::SenderMismatch { given, derived: sender }));
        return (cases, errors);
    }
    let env = Arc::new(test.env.clone());
    let pre = Arc::new(test.pre.clone());
    let chain_id = test.config.as_ref().and_then(|c| c.chainid).unwrap_or(1);
    for (fork, entries) in &test.post {
        let blob_params = test
            .config
            .as_ref()
            .and_then(|c| c.blob_schedule.as_ref())
            .and_then(|s| s.get(fork.name()).copied())
            .or_else(|| default_blob_params(*fork));
        for (i, entry) in entries.iter().enumerate() {
            let pointer = format!("{pointer_base}/post/{fork}/{i}/indexes");
            match select(template, entry.indexes, sender) {
                Ok(tx) => cases.push(Case {
                    file: file_label.clone(),
                    test: test_name.clone(),
                    fork: *fork,
                    index: entry.indexes,
                    env: env.clone(),
                    pre: pre.clone(),
                    tx,
                    chain_id,
                    blob_params,
                    expected: Some(Expectation {
                        hash: entry.hash,
                        logs: entry.logs,
                        exception: entry.expect_exception.as_deref().map(ExpectedException::parse),
                        state: entry.state.clone().map(Arc::new),
                        txbytes: entry.txbytes.clone(),
                    }),
                    block_hashes: None,
                }),
                Err(reason) => errors.push(invalid(pointer, reason)),
            }
        }
    }
    (cases, errors)
}

/// Picks one alternative of each indexed field.
fn select(t: &TransactionTemplate, idx: Indexes, sender: Address) -> Result<Transaction, InvalidFixture> {
    let out_of_range = |field: &'static str, index: usize, len: usize| InvalidFixture::IndexOutOfRange { field, index, len };
    let data = t.data.get(idx.data).ok_or(out_of_range("data", idx.data, t.data.len()))?;
    let gas_limit = *t.gas_limit.get(idx.gas).ok_or(out_of_range("gasLimit", idx.gas, t.gas_limit.len()))?;
    let value = t.value.get(idx.value).ok_or(out_of_range("value", idx.value, t.value.len()))?;
    let access_list = t.access_lists.as_ref().and_then(|lists| lists.get(idx.data).cloned().flatten());
    let kind = if t.authorization_list.is_some() {
        TxKind::SetCode
    } else if t.blob_versioned_hashes.is_some() {
        TxKind::Blob
    } else if t.max_fee_per_gas.is_some() {
        TxKind::Eip1559
    } else if access_list.is_some() {
        TxKind::AccessList
    } else {
        TxKind::Legacy
    };
    Ok(Transaction {
        kind,
        nonce: t.nonce,
        gas_limit,
        to: t.to,
        value: value.clone(),
        data: data.clone(),
        gas_price: t.gas_price,
        max_fee_per_gas: t.max_fee_per_gas,
        max_priority_fee_per_gas: t.max_priority_fee_per_gas,
        access_list: access_list.unwrap_or_default(),
        max_fee_per_blob_gas: t.max_fee_per_blob_gas,
        blob_versioned_hashes: t.blob_versioned_hashes.clone().unwrap_or_default(),
        authorization_list: t.authorization_list.clone().unwrap_or_default(),
        secret_key: t.secret_key,
        sender,
    })
}

/// One way an outcome differs from what the fixture expects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Mismatch {
    /// The post-state root differs.
    StateRoot {
        /// Fixture's root.
        expected: B256,
        /// Client's root.
        got: B256,
    },
    /// The logs hash differs.
    Logs {
        /// Fixture's hash.
        expected: B256,
        /// Client's hash.
        got: B256,
    },
    /// The fixture expects a rejection; the client executed the transaction.
    MissingRejection {
        /// The `expectException` text.
        expected: String,
    },
    /// The client rejected a transaction the fixture expects to execute.
    UnexpectedRejection {
        /// The client's reason.
        got: crate::outcome::InvalidTxKind,
    },
    /// Both reject, for different reasons: the class agrees, the kind does not. Reported, not
    /// counted as a failure.
    RejectionKind {
        /// The `expectException` text.
        expected: String,
        /// The client's reason.
        got: crate::outcome::InvalidTxKind,
    },
}

impl Mismatch {
    /// True for differences that do not fail a case (the rejection kind when the class agrees).
    pub fn is_soft(&self) -> bool {
        matches!(self, Mismatch::RejectionKind { .. })
    }
}

impl Expectation {
    /// Every way `outcome` differs from this expectation; empty when it matches exactly.
    pub fn check(&self, outcome: &crate::outcome::Outcome) -> Vec<Mismatch> {
        use crate::outcome::ErrorClass;
        let mut out = Vec::new();
        if outcome.state_root != self.hash {
            out.push(Mismatch::StateRoot { expected: self.hash, got: outcome.state_root });
        }
        if let Some(got) = outcome.logs_hash
            && got != self.logs
        {
            out.push(Mismatch::Logs { expected: self.logs, got });
        }
        let rejected = match outcome.error {
            Some(ErrorClass::InvalidTransaction(kind)) => Some(kind),
            _ => None,
        };
        match (&self.exception, rejected) {
            (Some(expected), None) => out.push(Mismatch::MissingRejection { expected: expected.raw.clone() }),
            (None, Some(got)) => out.push(Mismatch::UnexpectedRejection { got }),
            (Some(expected), Some(got)) if !expected.accepts(got) => {
                out.push(Mismatch::RejectionKind { expected: expected.raw.clone(), got })
            }
            _ => {}
        }
        out
    }
}
