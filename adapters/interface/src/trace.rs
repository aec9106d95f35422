//! Traces: EIP-3155 style execution steps, the common form every client's trace is normalised to.

use alloy_primitives::{Bytes, U256};
use serde::{Deserialize, Serialize};

/// Whether a client should record a trace while executing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TraceMode {
    /// No trace: the fast path.
    #[default]
    Off,
    /// One [`TraceStep`] per executed instruction.
    Steps,
}

/// One executed instruction, as EIP-3155 describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceStep {
    /// Program counter.
    pub pc: u64,
    /// Opcode byte.
    pub op: u8,
    /// Gas left before the instruction.
    pub gas: u64,
    /// Static gas cost of the instruction.
    pub gas_cost: u64,
    /// Memory size in bytes.
    pub mem_size: u64,
    /// Stack, bottom first.
    pub stack: Vec<U256>,
    /// Call depth, 1 at the top level.
    pub depth: u32,
    /// Refund counter.
    pub refund: u64,
    /// Return data of the last call, where the client reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<Bytes>,
}

/// A whole trace.
pub type Trace = Vec<TraceStep>;

/// Which fields of its trace steps a client reports faithfully. Fields a client does not
/// report (or reports with its own meaning) are left out when its trace is compared with
/// another's; `pc`, `op`, `gas`, `stack` and `depth` are always compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFields {
    /// `gasCost` is the instruction's cost as EIP-3155 defines it.
    pub gas_cost: bool,
    /// `refund` is the refund counter.
    pub refund: bool,
    /// `memSize` is the memory size before the instruction.
    pub mem_size: bool,
    /// `returnData` is the return data buffer.
    pub return_data: bool,
}

impl TraceFields {
    /// Every field reported.
    pub const ALL: TraceFields = TraceFields { gas_cost: true, refund: true, mem_size: true, return_data: true };

    /// The fields both `self` and `other` report.
    pub fn common(self, other: TraceFields) -> TraceFields {
        TraceFields {
            gas_cost: self.gas_cost && other.gas_cost,
            refund: self.refund && other.refund,
            mem_size: self.mem_size && other.mem_size,
            return_data: self.return_data && other.return_data,
        }
    }
}
