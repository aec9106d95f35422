//! The structured fuzz input: a [`Blueprint`] describes a state test as strategies (arithmetic on
//! boundary values, calls with well-formed precompile inputs, creations, storage walks, memory
//! edges, loops, re-entry) rather than as raw bytes. It decodes from any byte string through
//! `arbitrary`, mutates structurally, and compiles to a [`schism_interface::Case`] in
//! [`crate::fuzz::compile`].
//!
//! # The operand distribution
//!
//! The compiler picks no operand: every operand of every generated instruction is a field of
//! the blueprint, and the weights below (the `Arbitrary` impls in this file) are the whole
//! distribution. Boundary values dominate, and operands are mostly drawn independently; the
//! pairs and triples that independent draws seldom meet (two specific words of 24, and the one
//! instruction they matter to) come from tables of boundary combinations, for computing
//! instructions and for precompile inputs alike.
//!
//! | operand | drawn as |
//! |---|---|
//! | [`Value`] (arithmetic operands, stored values, call values, salts) | 2/5 a [`BOUNDARIES`](crate::fuzz::vectors::BOUNDARIES) word (signed and unsigned edges), 1/5 a boundary ± up to 128, 1/5 a small number (half of them at most 8), 1/10 any word, 1/10 an address; a computing instruction's operands are one value repeated a quarter of the time, and another quarter of the time a row of [`COMBINATIONS`] (-2^255 / -1; sums and products past 2^256 with a modulus of 0, 1 or wide; sign-bit pairs for the signed comparisons; shifts and indices of 31, 32, 255, 256, 2^64; 0^0; CLZ, ISZERO and NOT of 0, 1, 2^256 - 1 and -2^255) with one of the instructions it is for; BLOBHASH's index, when not a boundary word, is half the time below 8 and half the time the transaction's last blob, its count or one past it |
//! | [`Offset`] (memory offsets and lengths of every memory instruction, call, create, log, return, revert, copy and hash) | out of 21: 3 zero, 5 a small number, 4 whole words, 3 an edge of [`OFFSET_EDGES`](crate::fuzz::vectors::OFFSET_EDGES) (1/8 of those at 2^32 - 1 or beyond), 3 where the last memory write went ± up to 32 bytes, 2 the current return data size ± up to 33 (read at run time, not below zero), 1 where the last call's input lay ± up to 32 bytes (writes over a call's input after it returned) |
//! | [`CallMemory`] (where a call's input and output lie) | 3/4 of calls: input at an [`Offset`], input length the data's (3/4), the data's ± a little or an [`Offset`]; output apart at an [`Offset`] (1/2), over the input at its start (1/8) or shifted by up to 32 bytes either way (3/8): partial and full overlap, both orders; output length an [`Offset`]; a quarter of these then overwrite the word at the input's start (half the time) or up to 31 bytes either side of it with its complement and read the return data again. 1/4: the input at 0x200 and 64 bytes of output at 0x40. After every memory-writing instruction that follows a call, the return data is hashed again (return data must not change with memory) |
//! | [`Gas`] (forwarded by calls) | 3/8 half of what is left, 1/8 all but `k` (exactly enough and one less, at run time), 1/8 around all but one 64th (at run time), 1/8 a number up to 65535, 1/8 the stipend ± 128, 1/8 up to 255 |
//! | a frame's own gas at its call ([`Leaf::LastCall`], 1 leaf in 144) | the call's cost as the compiler reckons it (base, cold or warm access, value transfer) plus a margin of -64 to 31, plus 1 to 22 from the burn loop's step: the call affordable or just not, then the frame stops |
//! | [`Target`] (callees, balance queries, beneficiaries, delegations) | for a call, 1/4 a precompile outright; otherwise evenly: a generated contract, a precompile, the sender, the coinbase, an address with no account, a 7702 authority, the contract itself, a system contract, an account with only balance, only nonce or only storage, the address the last CREATE made |
//! | call input ([`Input`]) | 3/5 shaped (for a precompile: half well-formed, half broken, see [`crate::fuzz::precompile`]; ecrecover's well-formed inputs set v to an edge one time in eight, its broken ones set a field three times in four, v half of those (27 or 28 with higher bits set three times in four: 27 + 2^k for k from 8 to 255, or all ones above the last byte), r or s the other half (0, 1, n - 1, n, n + 1, n/2, n/2 + 1, 2^255, 2^256 - 1); for a contract: bytes), 1/5 words of [`Value`]s, 1/5 none |

use crate::fuzz::compile::{computing_index, computing_len};
use crate::fuzz::vectors::COMBINATIONS;
use arbitrary::{Arbitrary, Unstructured};
use serde::{Deserialize, Serialize};

/// Most contracts in one case.
pub const MAX_CONTRACTS: usize = 4;
/// Most pieces in one contract's program.
pub const MAX_PIECES: usize = 48;
/// Most leaves in a loop body or a created contract.
pub const MAX_BODY: usize = 8;
/// Most bytes in a raw code piece, calldata or precompile input.
pub const MAX_BYTES: usize = 160;
/// Most items in a storage walk.
pub const MAX_WALK: usize = 8;

/// A word a program pushes. Boundary values dominate, since that is where arithmetic breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// One of [`crate::fuzz::vectors::BOUNDARIES`].
    Boundary(u8),
    /// A boundary value plus a small signed offset.
    Near(u8, i8),
    /// A small number.
    Small(u8),
    /// Any word.
    Word([u8; 32]),
    /// The address of a target.
    Address(Target),
}

/// Whom a call, a balance query or a beneficiary names.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A generated contract of the pre-state (index modulo their number).
    Contract(u8),
    /// A precompile of the fork (index modulo their number).
    Precompile(u8),
    /// The transaction's sender.
    Sender,
    /// The block's fee recipient.
    Coinbase,
    /// An address with no account.
    Empty(u8),
    /// An EIP-7702 authority (an account that may delegate to a contract).
    Authority(u8),
    /// The executing contract itself.
    This,
    /// A system contract (beacon roots, block hash history, withdrawal and consolidation
    /// requests; index modulo their number), whether or not the fork deployed it.
    System(u8),
    /// An account of the pre-state with only a balance (0), only a nonce (1) or only storage
    /// (2), index modulo 3.
    Bare(u8),
    /// The address the last CREATE or CREATE2 of the executing contract made (zero when it
    /// made none or failed), read at run time.
    Created,
}

/// How much gas a call forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gas {
    /// Half of what is left (`GAS / 2`): a callee that burns all it gets leaves its caller
    /// enough to go on.
    All,
    /// A fixed amount up to 65535.
    Fixed(u16),
    /// 2300 (the value-transfer stipend) plus a small offset.
    Stipend(i8),
    /// Almost nothing.
    Tiny(u8),
    /// All that is left minus this much (read at run time): around exactly enough.
    Left(u8),
    /// All that is left minus one 64th of it, plus this much (read at run time): around the
    /// 63/64 rule's cap.
    Share(i8),
}

/// The four message-call instructions.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallKind {
    /// CALL.
    Call,
    /// CALLCODE.
    CallCode,
    /// DELEGATECALL.
    DelegateCall,
    /// STATICCALL.
    StaticCall,
}

/// The input of a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Input {
    /// No input.
    Empty,
    /// A well-formed input for the target precompile (or, for a contract, these bytes); the
    /// variant picks valid or deliberately broken forms.
    Shaped {
        /// Which form of input.
        variant: u8,
        /// Bytes the form draws its free parts from.
        data: Vec<u8>,
    },
    /// Words of call data.
    Words(Vec<Value>),
}

/// A memory offset or length, at the edges where memory handling breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Offset {
    /// Zero.
    Zero,
    /// A small number of bytes.
    Small(u8),
    /// A whole number of words.
    Words(u8),
    /// One of [`crate::fuzz::vectors::OFFSET_EDGES`] (31, 32, 33, 1023, 2^32, 2^64-1,
    /// 2^256-1, ...).
    Edge(u8),
    /// Where the last memory-writing instruction before this one wrote, shifted by this many
    /// bytes: ranges that touch, overlap or just miss what was written.
    Written(i8),
    /// The current return data's size plus this many bytes (RETURNDATASIZE at run time, zero
    /// before Byzantium): reads at, inside and past the end of return data.
    Returned(i8),
    /// Where the last call before this one read its input, shifted by this many bytes: writes
    /// over a call's input after it returned (whose return data must not change) and reads
    /// of it.
    CallInput(i8),
}

impl CallMemory {
    /// The layout of a call that does not choose one: input at 0x200, 64 bytes of output at
    /// 0x40 (apart).
    pub const CONVENTIONAL: CallMemory = CallMemory {
        input_at: Offset::Words(16),
        input_len: Length::Data,
        output_at: Place::Apart(Offset::Words(2)),
        output_len: Offset::Small(64),
        rewrite: None,
    };
}

/// Where a creation's init code goes when the blueprint does not choose: at 0x200, all of it.
pub const CONVENTIONAL_INIT: (Offset, Length) = (Offset::Words(16), Length::Data);

/// How many input bytes a call passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Length {
    /// As many as the input data has.
    Data,
    /// The data's length plus this many (at least zero).
    Delta(i8),
    /// Any length.
    Of(Offset),
}

/// Where a call's output lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Place {
    /// At an offset of its own.
    Apart(Offset),
    /// Over the input range, shifted by this many bytes (0: the same start; negative: the
    /// output starts before the input).
    OverInput(i8),
}

/// Where a call's input and output lie in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallMemory {
    /// Where the input data is written (when that is affordable) and read from.
    pub input_at: Offset,
    /// How many bytes the call passes.
    pub input_len: Length,
    /// Where the output lands.
    pub output_at: Place,
    /// How many output bytes the caller takes.
    pub output_len: Offset,
    /// After the call returns, the word at the input's start shifted by this many bytes is
    /// overwritten (with its complement) and the return data read again: return data must
    /// not change with the memory the call read.
    #[serde(default)]
    pub rewrite: Option<i8>,
}

/// Instructions that read or write memory.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemOp {
    /// MSTORE of a value.
    Mstore(Value),
    /// MSTORE8 of a value.
    Mstore8(Value),
    /// MLOAD.
    Mload,
    /// MCOPY (Cancun).
    Mcopy,
    /// CALLDATACOPY.
    CalldataCopy,
    /// CODECOPY.
    CodeCopy,
    /// RETURNDATACOPY, out of bounds when the offsets say so.
    ReturndataCopy,
    /// EXTCODECOPY of a target.
    ExtcodeCopy(Target),
    /// KECCAK256 over a range.
    Keccak,
}

/// A straight-line program fragment that leaves the stack as it found it and stores what it
/// computed in a fresh storage slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Leaf {
    /// A computing instruction of the fork (index modulo the fork's table) on pushed arguments.
    Op {
        /// Index into the fork's table of computing instructions.
        op: u8,
        /// Arguments, the first on top.
        args: [Value; 3],
    },
    /// DUPn or SWAPn over a stack of `depth` pushed values.
    Stack {
        /// How many values to push first.
        depth: u8,
        /// 0..15 DUP1..DUP16, 16..31 SWAP1..SWAP16.
        op: u8,
    },
    /// A memory instruction at edge offsets.
    Memory {
        /// The instruction.
        op: MemOp,
        /// Destination (or the only) offset.
        dst: Offset,
        /// Source offset.
        src: Offset,
        /// Length.
        len: Offset,
    },
    /// MCOPY between overlapping ranges of a filled region.
    Overlap {
        /// Source offset.
        src: u8,
        /// Destination minus source.
        delta: i8,
        /// Length.
        len: u8,
    },
    /// SSTORE (or TSTORE) walks over a few slots, e.g. 0 -> x -> 0 for refunds, then reads
    /// them back; transient slots are also read before the walk (what other contracts and
    /// frames of the transaction left there).
    Storage {
        /// TSTORE/TLOAD instead of SSTORE/SLOAD.
        transient: bool,
        /// Slot (modulo 8) and value pairs.
        walk: Vec<(u8, Value)>,
    },
    /// LOG0..LOG4.
    Log {
        /// Number of topics (modulo 5).
        topics: u8,
        /// The first topic (the others follow from it).
        topic: Value,
        /// Data offset.
        offset: Offset,
        /// Data length.
        len: Offset,
    },
    /// A message call; success, return data size and a hash of the return data are stored.
    Call {
        /// Which call instruction.
        kind: CallKind,
        /// Whom it calls.
        target: Target,
        /// Gas forwarded.
        gas: Gas,
        /// Value sent (CALL and CALLCODE).
        value: Value,
        /// The input.
        input: Input,
        /// Where input and output lie (`None`: input at 0x200, 64 bytes of output at 0x40).
        #[serde(default)]
        memory: Option<CallMemory>,
    },
    /// A call to itself: the inner frame writes (transient) storage and then reverts or
    /// returns; the outer frame reads the slot back.
    Reentry {
        /// Transient instead of persistent storage.
        transient: bool,
        /// Whether the inner frame reverts.
        revert: bool,
        /// The value written.
        value: Value,
    },
    /// Ends the frame with a call (no input, no output) for which the frame keeps just about
    /// what the call costs: it first burns its gas down to the call's cost as the compiler
    /// reckons it (base, access, value transfer) plus `margin` and up to 21 more, then calls
    /// with all that is left and stops. Exactly enough and just too little for the frame's own
    /// call, which relative gas (`GAS - k`) never lands on.
    LastCall {
        /// Which call instruction.
        kind: CallKind,
        /// Whom it calls.
        target: Target,
        /// Value sent (CALL and CALLCODE).
        value: Value,
        /// Gas kept beyond the reckoned cost (negative: short of it).
        margin: i8,
    },
    /// SELFDESTRUCT to a beneficiary.
    SelfDestruct(Target),
    /// Ends the frame: 0 STOP, 1 RETURN, 2 REVERT, 3 INVALID.
    End {
        /// Which ending (modulo 4).
        kind: u8,
        /// Offset of returned data.
        offset: Offset,
        /// Length of returned data.
        len: Offset,
    },
    /// Raw bytecode, for what no strategy describes.
    Raw(Vec<u8>),
}

/// A piece of a program: a leaf, or a structure holding leaves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Piece {
    /// A straight-line fragment.
    Leaf(Leaf),
    /// Runs the body `count` (modulo 16, plus 1) times.
    Loop {
        /// Iterations.
        count: u8,
        /// The body.
        body: Vec<Leaf>,
    },
    /// CREATE or CREATE2 of a contract whose constructor runs `init` and returns `runtime`.
    Create {
        /// CREATE2 instead of CREATE.
        create2: bool,
        /// The CREATE2 salt.
        salt: Value,
        /// Value endowed.
        value: Value,
        /// The constructor's own work.
        init: Vec<Leaf>,
        /// The created contract's program.
        runtime: Vec<Leaf>,
        /// How the constructor ends: 0..2 returns the runtime, 3 reverts, 4 returns code
        /// starting with 0xEF, 5 returns code above the size limit.
        ending: u8,
        /// Whether the new contract is called right after.
        call_after: bool,
        /// Where the init code is written and how many bytes of it are passed (`None`: at
        /// 0x200, all of it).
        #[serde(default)]
        memory: Option<(Offset, Length)>,
    },
    /// The program calls itself until a storage counter reaches `depth` (deep call chains).
    Recurse {
        /// Depth: small usually, past 1024 sometimes.
        depth: u8,
    },
}

/// A generated contract of the pre-state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contract {
    /// Balance.
    pub balance: Value,
    /// Nonce (modulo 4).
    pub nonce: u8,
    /// Initial storage: slot (modulo 8) and value.
    pub storage: Vec<(u8, Value)>,
    /// The program.
    pub program: Vec<Piece>,
}

/// An EIP-7702 authorization.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Auth {
    /// Which authority signs (modulo 4; 3 is the sender itself).
    pub authority: u8,
    /// The delegation target.
    pub target: Target,
    /// 0 any chain, 1-2 the case's chain, 3 another chain.
    pub chain: u8,
    /// 0-2 the right nonce, 3 a wrong one.
    pub nonce: u8,
}

/// The transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tx {
    /// Envelope type, modulo the types the fork allows.
    pub kind: u8,
    /// Contract creation when this is 0 (modulo 16) and the envelope allows it.
    pub create: u8,
    /// Gas limit, from a table.
    pub gas: u8,
    /// Value sent.
    pub value: Value,
    /// Call data.
    pub calldata: Vec<u8>,
    /// Access list: targets and slots.
    pub access: Vec<(Target, Vec<u8>)>,
    /// Blob count (blob transactions).
    pub blobs: u8,
    /// Authorizations (set-code transactions).
    pub auths: Vec<Auth>,
    /// Priority fee, from a table.
    pub tip: u8,
    /// Sender nonce offset: 0 (modulo 32) means wrong by one.
    pub nonce: u8,
}

/// The structured fuzz input: a whole state test in strategy form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Blueprint {
    /// Which fork among the candidates: the newest usually.
    pub fork: u8,
    /// Block environment choices: base fee (bits 0-1), whether the storage-only account
    /// exists (both of bits 2-3), block number (bits 4-7).
    pub env: u8,
    /// The transaction.
    pub tx: Tx,
    /// The contracts; the first is the transaction's target.
    pub contracts: Vec<Contract>,
    /// Later transactions, when the input is a block sequence (see [`Blueprint::sequence`]).
    #[serde(default)]
    pub follow: Vec<Follow>,
    /// Selects a block sequence over a single transaction: below the harness's share.
    #[serde(default)]
    pub sequence: u8,
}

/// Most later transactions a sequence has.
pub const MAX_FOLLOW: usize = 7;

/// A later transaction of a block sequence and how it builds on the earlier ones.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Follow {
    /// Starts a new block (otherwise it joins the current one).
    pub new_block: bool,
    /// The dependency strategy, modulo [`super::sequence::STRATEGIES`].
    pub strategy: u8,
    /// Which contract it aims at.
    pub target: u8,
    /// The transaction's own choices (type, gas, value, calldata, authorizations).
    pub tx: Tx,
}

impl<'a> Arbitrary<'a> for Leaf {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Weighted: computing instructions and calls dominate, endings are rare, so that
        // most programs run long.
        Ok(match u.int_in_range(0u8..=31)? {
            0..=10 => {
                let mut op = u.arbitrary()?;
                let mut args: [Value; 3] = u.arbitrary()?;
                match u.int_in_range(0u8..=7)? {
                    // A quarter of the time the operands are one value repeated (x op x: 0^0,
                    // MAX * MAX, -2^255 / -2^255 ...), pairs the independent draws seldom meet.
                    0..=1 => args = [args[0]; 3],
                    // A quarter of the time a boundary combination (-2^255 / -1, MAX * MAX mod
                    // 0, shifts of 255 and 256, ...) with one of the instructions it is for.
                    2..=3 => {
                        let (ops, at) = u.choose(COMBINATIONS)?;
                        op = u.choose(ops).ok().and_then(|o| computing_index(*o)).unwrap_or(op);
                        args = at.map(Value::Boundary);
                    }
                    _ => {}
                }
                Leaf::Op { op, args }
            }
            11 => Leaf::Stack { depth: u.arbitrary()?, op: u.arbitrary()? },
            12..=13 => Leaf::Memory { op: u.arbitrary()?, dst: u.arbitrary()?, src: u.arbitrary()?, len: u.arbitrary()? },
            14 => Leaf::Overlap { src: u.arbitrary()?, delta: u.arbitrary()?, len: u.arbitrary()? },
            15..=17 => Leaf::Storage { transient: u.arbitrary()?, walk: u.arbitrary()? },
            18 => Leaf::Log { topics: u.arbitrary()?, topic: u.arbitrary()?, offset: u.arbitrary()?, len: u.arbitrary()? },
            19..=24 => Leaf::Call {
                kind: u.arbitrary()?,
                // A quarter of the calls go to a precompile outright: their input checks are
                // where malformed input matters most.
                target: if u.ratio(1u8, 4)? { Target::Precompile(u.arbitrary()?) } else { u.arbitrary()? },
                gas: u.arbitrary()?,
                value: u.arbitrary()?,
                input: u.arbitrary()?,
                memory: if u.ratio(3u8, 4)? { Some(u.arbitrary()?) } else { None },
            },
            25..=26 => Leaf::Reentry { transient: u.arbitrary()?, revert: u.arbitrary()?, value: u.arbitrary()? },
            27 if u.ratio(1u8, 3)? => Leaf::SelfDestruct(u.arbitrary()?),
            // A third of the other endings end with a squeezed call, short of its cost two
            // times in three (by 1 to 64, then by up to 21 more from the burn's step).
            27 if u.ratio(1u8, 3)? => {
                Leaf::LastCall { kind: u.arbitrary()?, target: u.arbitrary()?, value: u.arbitrary()?, margin: u.int_in_range(-64..=31)? }
            }
            27 => Leaf::End { kind: u.arbitrary()?, offset: u.arbitrary()?, len: u.arbitrary()? },
            28..=30 => Leaf::Op { op: u.arbitrary()?, args: u.arbitrary()? },
            _ => {
                let len = u.int_in_range(1..=16)?;
                Leaf::Raw(u.bytes(len)?.to_vec())
            }
        })
    }
}

impl<'a> Arbitrary<'a> for Piece {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u.int_in_range(0u8..=19)? {
            0..=14 => Piece::Leaf(u.arbitrary()?),
            15..=16 => Piece::Loop { count: u.arbitrary()?, body: u.arbitrary()? },
            17..=18 => Piece::Create {
                create2: u.arbitrary()?,
                salt: u.arbitrary()?,
                value: u.arbitrary()?,
                init: u.arbitrary()?,
                runtime: u.arbitrary()?,
                ending: u.arbitrary()?,
                call_after: u.arbitrary()?,
                memory: if u.ratio(1u8, 2)? { Some((u.arbitrary()?, u.arbitrary()?)) } else { None },
            },
            _ => Piece::Recurse { depth: u.arbitrary()? },
        })
    }
}

impl<'a> Arbitrary<'a> for Gas {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Everything left, as most real calls do, half of the time: the millisecond-class
        // precompiles need tens of thousands of gas.
        Ok(match u.int_in_range(0u8..=7)? {
            0..=2 => Gas::All,
            3 => Gas::Left(u.arbitrary()?),
            4 => Gas::Share(u.arbitrary()?),
            5 => Gas::Fixed(u.arbitrary()?),
            6 => Gas::Stipend(u.arbitrary()?),
            _ => Gas::Tiny(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Value {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u.int_in_range(0u8..=9)? {
            0..=3 => Value::Boundary(u.arbitrary()?),
            4..=5 => Value::Near(u.arbitrary()?, u.arbitrary()?),
            // Half of the small numbers are at most 8: indices (of blobs, bytes, stack
            // items) and counts near their ends.
            6..=7 if u.ratio(1u8, 2u8)? => Value::Small(u.int_in_range(0u8..=8)?),
            6..=7 => Value::Small(u.arbitrary()?),
            8 => Value::Word(u.arbitrary()?),
            _ => Value::Address(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Offset {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u.int_in_range(0u8..=20)? {
            0..=2 => Offset::Zero,
            3..=7 => Offset::Small(u.arbitrary()?),
            8..=11 => Offset::Words(u.arbitrary()?),
            12..=14 => Offset::Edge(u.arbitrary()?),
            // Shifts near what they are relative to: ranges that touch and overlap it.
            15..=17 => Offset::Written(u.int_in_range(-32..=32)?),
            18..=19 => Offset::Returned(u.int_in_range(-33..=33)?),
            _ => Offset::CallInput(u.int_in_range(-32..=32)?),
        })
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Shaped most often: for a precompile it is the input its checks are about.
        Ok(match u.int_in_range(0u8..=4)? {
            0 => Input::Empty,
            1..=3 => Input::Shaped { variant: u.arbitrary()?, data: u.arbitrary()? },
            _ => Input::Words(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Length {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u.int_in_range(0u8..=7)? {
            0..=5 => Length::Data,
            6 => Length::Delta(u.arbitrary()?),
            _ => Length::Of(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Place {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Over the input, a quarter of the time at its very start (full overlap), otherwise
        // shifted by up to 32 bytes either way (partial overlap in both orders).
        Ok(match u.int_in_range(0u8..=7)? {
            0..=3 => Place::Apart(u.arbitrary()?),
            4 => Place::OverInput(0),
            _ => Place::OverInput(u.int_in_range(-32..=32)?),
        })
    }
}

impl<'a> Arbitrary<'a> for CallMemory {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(CallMemory {
            input_at: u.arbitrary()?,
            input_len: u.arbitrary()?,
            output_at: u.arbitrary()?,
            output_len: u.arbitrary()?,
            // A quarter of the chosen layouts write over the input after the call, most often
            // where the input starts, otherwise up to a word either side.
            rewrite: if u.ratio(1u8, 4)? { Some(if u.ratio(1u8, 2)? { 0 } else { u.int_in_range(-31..=31)? }) } else { None },
        })
    }
}

impl<'a> Arbitrary<'a> for Contract {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let storage_len = u.int_in_range(0..=4)?;
        let storage = (0..storage_len).map(|_| u.arbitrary()).collect::<arbitrary::Result<_>>()?;
        // Programs of some length: the point is to execute deep.
        let pieces = u.int_in_range(4..=24)?;
        let mut program = Vec::with_capacity(pieces);
        for _ in 0..pieces {
            if u.is_empty() {
                break;
            }
            program.push(u.arbitrary()?);
        }
        Ok(Contract { balance: u.arbitrary()?, nonce: u.arbitrary()?, storage, program })
    }
}

impl<'a> Arbitrary<'a> for Tx {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let calldata_len = u.int_in_range(0..=64)?;
        let calldata = u.bytes(calldata_len)?.to_vec();
        let access_len = u.int_in_range(0..=2)?;
        let access = (0..access_len).map(|_| u.arbitrary()).collect::<arbitrary::Result<_>>()?;
        let auths_len = u.int_in_range(0..=3)?;
        let auths = (0..auths_len).map(|_| u.arbitrary()).collect::<arbitrary::Result<_>>()?;
        Ok(Tx {
            kind: u.arbitrary()?,
            create: u.arbitrary()?,
            gas: u.arbitrary()?,
            value: u.arbitrary()?,
            calldata,
            access,
            blobs: u.arbitrary()?,
            auths,
            tip: u.arbitrary()?,
            nonce: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Blueprint {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let fork = u.arbitrary()?;
        let env = u.arbitrary()?;
        let tx = u.arbitrary()?;
        let contracts_len = u.int_in_range(1..=MAX_CONTRACTS)?;
        let mut contracts = Vec::with_capacity(contracts_len);
        for _ in 0..contracts_len {
            contracts.push(u.arbitrary()?);
        }
        let follow_len = u.int_in_range(0..=MAX_FOLLOW)?;
        let mut follow = Vec::with_capacity(follow_len);
        for _ in 0..follow_len {
            follow.push(u.arbitrary()?);
        }
        let sequence = u.arbitrary().unwrap_or(0);
        Ok(Blueprint { fork, env, tx, contracts, follow, sequence })
    }
}

impl Default for Blueprint {
    fn default() -> Blueprint {
        Blueprint {
            fork: 0,
            env: 0,
            tx: Tx {
                kind: 0,
                create: 1,
                gas: 0,
                value: Value::Small(0),
                calldata: Vec::new(),
                access: Vec::new(),
                blobs: 0,
                auths: Vec::new(),
                tip: 0,
                nonce: 1,
            },
            contracts: vec![Contract { balance: Value::Small(0), nonce: 1, storage: Vec::new(), program: Vec::new() }],
            follow: Vec::new(),
            sequence: u8::MAX,
        }
    }
}

impl Blueprint {
    /// Decodes any byte string into a blueprint (a default one when the bytes run out early).
    pub fn from_bytes(data: &[u8]) -> Blueprint {
        let mut u = Unstructured::new(data);
        let mut blueprint = Blueprint::arbitrary(&mut u).unwrap_or_default();
        blueprint.normalize();
        blueprint
    }

    /// Cuts every list to its limit and ensures one contract exists.
    pub fn normalize(&mut self) {
        self.contracts.truncate(MAX_CONTRACTS);
        if self.contracts.is_empty() {
            self.contracts = Blueprint::default().contracts;
        }
        self.follow.truncate(MAX_FOLLOW);
        for tx in std::iter::once(&mut self.tx).chain(self.follow.iter_mut().map(|f| &mut f.tx)) {
            tx.calldata.truncate(MAX_BYTES);
            tx.access.truncate(4);
            for (_, slots) in &mut tx.access {
                slots.truncate(4);
            }
            tx.auths.truncate(4);
        }
        for contract in &mut self.contracts {
            contract.storage.truncate(MAX_WALK);
            contract.program.truncate(MAX_PIECES);
            for piece in &mut contract.program {
                match piece {
                    Piece::Leaf(leaf) => leaf.normalize(),
                    Piece::Loop { body, .. } => normalize_body(body),
                    Piece::Create { init, runtime, .. } => {
                        normalize_body(init);
                        normalize_body(runtime);
                    }
                    Piece::Recurse { .. } => {}
                }
            }
        }
    }

    /// The number of pieces over all contracts.
    pub fn pieces(&self) -> usize {
        self.contracts.iter().map(|c| c.program.len()).sum()
    }

    /// Inserts a freshly generated piece somewhere.
    pub fn insert_piece(&mut self, u: &mut Unstructured) -> bool {
        let Ok(c) = u.choose_index(self.contracts.len()) else { return false };
        let Ok(piece) = Piece::arbitrary(u) else { return false };
        let program = &mut self.contracts[c].program;
        if program.len() >= MAX_PIECES {
            return false;
        }
        let at = u.int_in_range(0..=program.len()).unwrap_or(0);
        program.insert(at, piece);
        self.normalize();
        true
    }

    /// Replaces one piece with a freshly generated one, or changes one field of a leaf.
    pub fn replace_piece(&mut self, u: &mut Unstructured) -> bool {
        let Some((c, i)) = self.pick_piece(u) else { return false };
        let piece = &mut self.contracts[c].program[i];
        let tweaked = match piece {
            Piece::Leaf(Leaf::Op { op, args }) if u.arbitrary::<bool>().unwrap_or(false) => {
                match u.int_in_range(0u8..=4).unwrap_or(0) {
                    0 => *op = u.arbitrary().unwrap_or(*op),
                    // Operands from a boundary combination for the instruction (under the
                    // newest fork), when there is one.
                    4 => *args = combination_for(*op, u).unwrap_or(*args),
                    k => args[usize::from(k - 1)] = u.arbitrary().unwrap_or(Value::Small(0)),
                }
                true
            }
            Piece::Loop { count, .. } | Piece::Recurse { depth: count } if u.arbitrary::<bool>().unwrap_or(false) => {
                *count = u.arbitrary().unwrap_or(*count);
                true
            }
            _ => false,
        };
        if !tweaked {
            match Piece::arbitrary(u) {
                Ok(fresh) => *piece = fresh,
                Err(_) => return false,
            }
        }
        self.normalize();
        true
    }

    /// Deletes one piece.
    pub fn delete_piece(&mut self, u: &mut Unstructured) -> bool {
        let Some((c, i)) = self.pick_piece(u) else { return false };
        self.contracts[c].program.remove(i);
        true
    }

    /// Copies a run of pieces from another blueprint into this one.
    pub fn splice(&mut self, other: &Blueprint, u: &mut Unstructured) -> bool {
        let Ok(from) = u.choose(&other.contracts) else { return false };
        if from.program.is_empty() {
            return false;
        }
        let start = u.choose_index(from.program.len()).unwrap_or(0);
        let len = u.int_in_range(1..=from.program.len() - start).unwrap_or(1);
        let Ok(c) = u.choose_index(self.contracts.len()) else { return false };
        let program = &mut self.contracts[c].program;
        let at = u.int_in_range(0..=program.len()).unwrap_or(0);
        let run: Vec<Piece> = from.program[start..start + len].to_vec();
        program.splice(at..at, run);
        self.normalize();
        true
    }

    /// Regenerates one field of the transaction (or the fork or environment choice).
    pub fn mutate_tx(&mut self, u: &mut Unstructured) -> bool {
        let tx = &mut self.tx;
        let done = match u.int_in_range(0u8..=11).unwrap_or(0) {
            0 => u.arbitrary().map(|v| tx.kind = v),
            1 => u.arbitrary().map(|v| tx.create = v),
            2 => u.arbitrary().map(|v| tx.gas = v),
            3 => u.arbitrary().map(|v| tx.value = v),
            4 => u.arbitrary().map(|v| tx.calldata = v),
            5 => u.arbitrary().map(|v| tx.access = v),
            6 => u.arbitrary().map(|v| tx.blobs = v),
            7 => u.arbitrary().map(|v| tx.auths = v),
            8 => u.arbitrary().map(|v| tx.tip = v),
            9 => u.arbitrary().map(|v| tx.nonce = v),
            10 => u.arbitrary().map(|v| self.fork = v),
            _ => u.arbitrary().map(|v| self.env = v),
        };
        self.normalize();
        done.is_ok()
    }

    /// Changes a pre-state value: a contract's balance, nonce or initial storage; or adds or
    /// removes a contract.
    pub fn mutate_pre(&mut self, u: &mut Unstructured) -> bool {
        let Ok(c) = u.choose_index(self.contracts.len()) else { return false };
        let done = match u.int_in_range(0u8..=4).unwrap_or(0) {
            0 => u.arbitrary().map(|v| self.contracts[c].balance = v),
            1 => u.arbitrary().map(|v| self.contracts[c].nonce = v),
            2 => u.arbitrary().map(|v| self.contracts[c].storage.push(v)),
            3 if self.contracts.len() < MAX_CONTRACTS => u.arbitrary().map(|v| self.contracts.push(v)),
            _ if self.contracts.len() > 1 => {
                self.contracts.remove(c);
                Ok(())
            }
            _ => Ok(()),
        };
        self.normalize();
        done.is_ok()
    }

    /// The `choice`-th (modulo their number) byte field: call data, raw code, call input
    /// data. `None` when there is none.
    pub fn bytes_mut(&mut self, choice: usize) -> Option<&mut Vec<u8>> {
        let mut fields: Vec<&mut Vec<u8>> = vec![&mut self.tx.calldata];
        for contract in &mut self.contracts {
            for piece in &mut contract.program {
                match piece {
                    Piece::Leaf(leaf) => fields.extend(leaf.bytes_mut()),
                    Piece::Loop { body, .. } => fields.extend(body.iter_mut().filter_map(Leaf::bytes_mut)),
                    Piece::Create { init, runtime, .. } => {
                        fields.extend(init.iter_mut().chain(runtime.iter_mut()).filter_map(Leaf::bytes_mut))
                    }
                    Piece::Recurse { .. } => {}
                }
            }
        }
        let n = fields.len();
        fields.into_iter().nth(choice % n)
    }

    /// Nudges one operand of one instruction (a value, an offset or length, the gas, a
    /// target, where a call's input or output lies) to a neighbouring value, so that coverage
    /// feedback can walk between boundary values and their combinations.
    pub fn perturb_operand(&mut self, u: &mut Unstructured) -> bool {
        let mut operands = Vec::new();
        for contract in &mut self.contracts {
            for piece in &mut contract.program {
                piece.operands(&mut operands);
            }
        }
        let Ok(i) = u.choose_index(operands.len()) else { return false };
        let done = operands.swap_remove(i).perturb(u);
        self.normalize();
        done
    }

    fn pick_piece(&self, u: &mut Unstructured) -> Option<(usize, usize)> {
        let with_pieces: Vec<usize> = (0..self.contracts.len()).filter(|c| !self.contracts[*c].program.is_empty()).collect();
        let c = *u.choose(&with_pieces).ok()?;
        let i = u.choose_index(self.contracts[c].program.len()).ok()?;
        Some((c, i))
    }
}

/// The operands of a row of [`COMBINATIONS`] for the instruction `op` picks under the newest
/// fork (which has every computing instruction), or `None` when no row is for it.
fn combination_for(op: u8, u: &mut Unstructured) -> Option<[Value; 3]> {
    let rows: Vec<&[u8; 3]> = COMBINATIONS
        .iter()
        .filter(|(ops, _)| ops.iter().any(|o| computing_index(*o).is_some_and(|i| i == op % computing_len())))
        .map(|(_, at)| at)
        .collect();
    u.choose(&rows).ok().map(|at| at.map(Value::Boundary))
}

/// One operand of a generated instruction, borrowed to be nudged in place.
enum Operand<'a> {
    Value(&'a mut Value),
    Offset(&'a mut Offset),
    Gas(&'a mut Gas),
    Target(&'a mut Target),
    Length(&'a mut Length),
    Place(&'a mut Place),
}

/// A small signed step: mostly one, sometimes up to 32, either way.
fn step(u: &mut Unstructured) -> i8 {
    let size = if u.ratio(3u8, 4).unwrap_or(true) { 1 } else { u.int_in_range(2i8..=32).unwrap_or(2) };
    if u.arbitrary().unwrap_or(false) { size } else { -size }
}

impl Operand<'_> {
    /// Moves the operand to a neighbouring value (now and then a fresh one).
    fn perturb(self, u: &mut Unstructured) -> bool {
        let fresh = u.ratio(1u8, 5).unwrap_or(false);
        let d = step(u);
        match self {
            Operand::Value(v) if fresh => *v = u.arbitrary().unwrap_or(*v),
            Operand::Value(v) => {
                *v = match *v {
                    Value::Boundary(i) if u.arbitrary().unwrap_or(false) => Value::Near(i, d),
                    Value::Boundary(i) => Value::Boundary(i.wrapping_add_signed(d.signum())),
                    Value::Near(i, k) if u.ratio(1u8, 4).unwrap_or(false) => Value::Boundary(i.wrapping_add_signed(k.signum())),
                    Value::Near(i, k) => Value::Near(i, k.wrapping_add(d)),
                    Value::Small(k) => Value::Small(k.wrapping_add_signed(d)),
                    Value::Word(mut w) => {
                        let at = u.choose_index(32).unwrap_or(31);
                        w[at] = w[at].wrapping_add_signed(d);
                        Value::Word(w)
                    }
                    Value::Address(t) => Value::Address(u.arbitrary().unwrap_or(t)),
                }
            }
            Operand::Offset(o) if fresh => *o = u.arbitrary().unwrap_or(*o),
            Operand::Offset(o) => *o = nudge_offset(*o, d),
            Operand::Gas(g) if fresh => *g = u.arbitrary().unwrap_or(*g),
            Operand::Gas(g) => {
                *g = match *g {
                    Gas::All => Gas::Left(d.unsigned_abs()),
                    Gas::Fixed(k) => Gas::Fixed(k.wrapping_add_signed(i16::from(d))),
                    Gas::Stipend(k) => Gas::Stipend(k.wrapping_add(d)),
                    Gas::Tiny(k) => Gas::Tiny(k.wrapping_add_signed(d)),
                    Gas::Left(k) => Gas::Left(k.wrapping_add_signed(d)),
                    Gas::Share(k) => Gas::Share(k.wrapping_add(d)),
                }
            }
            Operand::Target(t) => *t = u.arbitrary().unwrap_or(*t),
            Operand::Length(l) if fresh => *l = u.arbitrary().unwrap_or(*l),
            Operand::Length(l) => {
                *l = match *l {
                    Length::Data => Length::Delta(d),
                    Length::Delta(k) => Length::Delta(k.wrapping_add(d)),
                    Length::Of(o) => Length::Of(nudge_offset(o, d)),
                }
            }
            Operand::Place(p) if fresh => *p = u.arbitrary().unwrap_or(*p),
            Operand::Place(p) => {
                *p = match *p {
                    Place::Apart(o) => Place::Apart(nudge_offset(o, d)),
                    Place::OverInput(k) => Place::OverInput(k.wrapping_add(d)),
                }
            }
        }
        true
    }
}

/// An offset moved by `d` within its own kind (an edge to the next edge).
fn nudge_offset(o: Offset, d: i8) -> Offset {
    match o {
        Offset::Zero => Offset::Small(d.unsigned_abs()),
        Offset::Small(k) => Offset::Small(k.wrapping_add_signed(d)),
        Offset::Words(k) => Offset::Words(k.wrapping_add_signed(d.signum())),
        Offset::Edge(k) => Offset::Edge(k.wrapping_add_signed(d.signum())),
        Offset::Written(k) => Offset::Written(k.wrapping_add(d)),
        Offset::Returned(k) => Offset::Returned(k.wrapping_add(d)),
        Offset::CallInput(k) => Offset::CallInput(k.wrapping_add(d)),
    }
}

impl Piece {
    /// Collects the piece's operands, its leaves' included.
    fn operands<'a>(&'a mut self, out: &mut Vec<Operand<'a>>) {
        match self {
            Piece::Leaf(leaf) => leaf.operands(out),
            Piece::Loop { body, .. } => body.iter_mut().for_each(|l| l.operands(out)),
            Piece::Create { salt, value, init, runtime, memory, .. } => {
                out.push(Operand::Value(salt));
                out.push(Operand::Value(value));
                if let Some((at, len)) = memory {
                    out.push(Operand::Offset(at));
                    out.push(Operand::Length(len));
                }
                init.iter_mut().chain(runtime.iter_mut()).for_each(|l| l.operands(out));
            }
            Piece::Recurse { .. } => {}
        }
    }
}

impl Leaf {
    /// Collects the leaf's operands.
    fn operands<'a>(&'a mut self, out: &mut Vec<Operand<'a>>) {
        match self {
            Leaf::Op { args, .. } => out.extend(args.iter_mut().map(Operand::Value)),
            Leaf::Memory { op, dst, src, len } => {
                match op {
                    MemOp::Mstore(v) | MemOp::Mstore8(v) => out.push(Operand::Value(v)),
                    MemOp::ExtcodeCopy(t) => out.push(Operand::Target(t)),
                    _ => {}
                }
                out.extend([Operand::Offset(dst), Operand::Offset(src), Operand::Offset(len)]);
            }
            Leaf::Storage { walk, .. } => out.extend(walk.iter_mut().map(|(_, v)| Operand::Value(v))),
            Leaf::Log { topic, offset, len, .. } => out.extend([Operand::Value(topic), Operand::Offset(offset), Operand::Offset(len)]),
            Leaf::Call { target, gas, value, input, memory, .. } => {
                out.extend([Operand::Target(target), Operand::Gas(gas), Operand::Value(value)]);
                if let Input::Words(words) = input {
                    out.extend(words.iter_mut().map(Operand::Value));
                }
                if let Some(m) = memory {
                    out.extend([
                        Operand::Offset(&mut m.input_at),
                        Operand::Length(&mut m.input_len),
                        Operand::Place(&mut m.output_at),
                        Operand::Offset(&mut m.output_len),
                    ]);
                }
            }
            Leaf::Reentry { value, .. } => out.push(Operand::Value(value)),
            Leaf::SelfDestruct(t) => out.push(Operand::Target(t)),
            Leaf::LastCall { target, value, .. } => out.extend([Operand::Target(target), Operand::Value(value)]),
            Leaf::End { offset, len, .. } => out.extend([Operand::Offset(offset), Operand::Offset(len)]),
            Leaf::Stack { .. } | Leaf::Overlap { .. } | Leaf::Raw(_) => {}
        }
    }

    fn normalize(&mut self) {
        match self {
            Leaf::Storage { walk, .. } => walk.truncate(MAX_WALK),
            Leaf::Raw(bytes) => bytes.truncate(MAX_BYTES),
            Leaf::Call { input: Input::Shaped { data, .. }, .. } => data.truncate(MAX_BYTES),
            Leaf::Call { input: Input::Words(words), .. } => words.truncate(8),
            _ => {}
        }
    }

    fn bytes_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Leaf::Raw(bytes) | Leaf::Call { input: Input::Shaped { data: bytes, .. }, .. } => Some(bytes),
            _ => None,
        }
    }
}

fn normalize_body(body: &mut Vec<Leaf>) {
    body.truncate(MAX_BODY);
    body.iter_mut().for_each(Leaf::normalize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_decode_and_respect_the_limits() {
        let mut state = 0x1234_5678_u64;
        for len in [0usize, 1, 7, 64, 512, 4096] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let b = Blueprint::from_bytes(&data);
            assert!(!b.contracts.is_empty() && b.contracts.len() <= MAX_CONTRACTS);
            assert!(b.contracts.iter().all(|c| c.program.len() <= MAX_PIECES));
        }
    }

    #[test]
    fn structural_mutations_change_the_blueprint() {
        let data: Vec<u8> = (0..2048u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let original = Blueprint::from_bytes(&data);
        let entropy: Vec<u8> = (0..256u32).map(|i| (i * 31 + 5) as u8).collect();
        let mut b = original.clone();
        assert!(b.insert_piece(&mut Unstructured::new(&entropy)));
        assert_eq!(b.pieces(), original.pieces() + 1);
        assert!(b.delete_piece(&mut Unstructured::new(&entropy)));
        assert_eq!(b.pieces(), original.pieces());
        let mut spliced = Blueprint::default();
        assert!(spliced.splice(&original, &mut Unstructured::new(&entropy)) || original.pieces() == 0);
        assert!(b.bytes_mut(3).is_some());
    }

    #[test]
    fn perturbing_an_operand_changes_one_operand_only() {
        let call = Leaf::Call {
            kind: CallKind::Call,
            target: Target::Precompile(3),
            gas: Gas::Share(0),
            value: Value::Boundary(4),
            input: Input::Empty,
            memory: Some(CallMemory {
                input_at: Offset::Words(2),
                input_len: Length::Data,
                output_at: Place::OverInput(0),
                output_len: Offset::Small(32),
                rewrite: None,
            }),
        };
        let mut original = Blueprint::default();
        original.contracts[0].program = vec![Piece::Leaf(call)];
        let mut changed = 0;
        for seed in 0..64u8 {
            let entropy: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(seed).wrapping_add(seed)).collect();
            let mut b = original.clone();
            assert!(b.perturb_operand(&mut Unstructured::new(&entropy)));
            assert_eq!(b.pieces(), 1, "the piece stays");
            let Piece::Leaf(Leaf::Call { kind, input, .. }) = &b.contracts[0].program[0] else { panic!("still a call") };
            assert_eq!((*kind, input), (CallKind::Call, &Input::Empty), "only operands move");
            changed += usize::from(b != original);
        }
        assert!(changed > 32, "most perturbations change something ({changed} of 64)");
        assert!(!Blueprint::default().perturb_operand(&mut Unstructured::new(&[1, 2, 3])), "no operand, no change");
    }
}
