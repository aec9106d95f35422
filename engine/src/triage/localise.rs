//! Localisation: lines up the EIP-3155 traces of clients that disagree and finds the last step
//! they share and the first at which they part, and lists the accounts and slots in which their
//! post-states differ.
//!
//! Per-client trace quirks are absorbed here, in one place: a field is compared only when both
//! clients report it faithfully ([`Client::trace_fields`](schism_interface::Client::trace_fields)),
//! `gasCost` is never compared for CALL/CREATE-family instructions (some clients count the
//! gas handed to the callee, some do not) nor for an instruction that ends its frame
//! exceptionally (some report all gas left, some the cost that did not fit), and STOP steps
//! are dropped from every trace (see [`normalise`]).

use super::code::opcode_name;
use alloy_primitives::{Address, Bytes, U256};
use schism_interface::{Accounts, Trace, TraceFields, TraceStep};
use serde::{Deserialize, Serialize};

/// Steps of common trace shown before the first difference.
pub const CONTEXT: usize = 4;

/// One trace step as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Position in the trace, from 0.
    pub index: usize,
    /// Program counter.
    pub pc: u64,
    /// Opcode mnemonic.
    pub op: String,
    /// Gas left before the instruction.
    pub gas: u64,
    /// Cost of the instruction, where the client reports it.
    pub gas_cost: Option<u64>,
    /// Call depth, 1 at the top level.
    pub depth: u32,
    /// Refund counter, where the client reports it.
    pub refund: Option<u64>,
    /// Memory size in bytes, where the client reports it.
    pub mem_size: Option<u64>,
    /// Stack, top first.
    pub stack: Vec<U256>,
    /// Return data, where the client reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_data: Option<Bytes>,
}

impl Step {
    /// A trace step with the fields its client does not report left out.
    pub fn of(index: usize, step: &TraceStep, fields: TraceFields) -> Step {
        Step {
            index,
            pc: step.pc,
            op: opcode_name(step.op),
            gas: step.gas,
            gas_cost: fields.gas_cost.then_some(step.gas_cost),
            depth: step.depth,
            refund: fields.refund.then_some(step.refund),
            mem_size: fields.mem_size.then_some(step.mem_size),
            stack: step.stack.iter().rev().copied().collect(),
            return_data: if fields.return_data { step.return_data.clone() } else { None },
        }
    }

    /// One line: `#12 pc 34 SSTORE gas 29000 cost 20000 depth 1 refund 0 mem 64 stack [..]`.
    pub fn line(&self) -> String {
        let mut s = format!("#{} pc {} {} gas {}", self.index, self.pc, self.op, self.gas);
        if let Some(c) = self.gas_cost {
            s += &format!(" cost {c}");
        }
        s += &format!(" depth {}", self.depth);
        if let Some(r) = self.refund {
            s += &format!(" refund {r}");
        }
        if let Some(m) = self.mem_size {
            s += &format!(" mem {m}");
        }
        let stack: Vec<String> = self.stack.iter().take(6).map(|v| format!("{v:#x}")).collect();
        s += &format!(" stack [{}{}]", stack.join(", "), if self.stack.len() > 6 { ", ..." } else { "" });
        if let Some(r) = &self.return_data {
            s += &format!(" returndata {r}");
        }
        s
    }
}

/// A trace without STOP steps. Clients differ in whether they trace the implicit STOP at the
/// end of code and in a frame of empty code; a STOP changes nothing but the frame, which the
/// next step shows, so dropping every STOP loses nothing.
pub fn normalise(trace: &Trace) -> Vec<&TraceStep> {
    trace.iter().filter(|s| s.op != 0).collect()
}

/// The fields in which step `i` of two normalised traces differs, among those both clients
/// report.
fn differing_at(a: &[&TraceStep], b: &[&TraceStep], i: usize, fields: TraceFields) -> Vec<&'static str> {
    let completes = |t: &[&TraceStep]| t.get(i + 1).is_some_and(|n| n.depth == t[i].depth);
    let cost = fields.gas_cost && completes(a) && completes(b);
    differing_fields(a[i], b[i], TraceFields { gas_cost: cost, ..fields })
}

/// The fields in which two steps differ, among those both clients report.
pub fn differing_fields(a: &TraceStep, b: &TraceStep, fields: TraceFields) -> Vec<&'static str> {
    let calls = |op: u8| matches!(op, 0xf0..=0xff);
    let mut out = Vec::new();
    let mut check = |differs: bool, name| {
        if differs {
            out.push(name);
        }
    };
    check(a.pc != b.pc, "pc");
    check(a.op != b.op, "op");
    check(a.depth != b.depth, "depth");
    check(a.gas != b.gas, "gas");
    check(a.stack != b.stack, "stack");
    check(fields.gas_cost && !calls(a.op) && a.op == b.op && a.gas_cost != b.gas_cost, "gas_cost");
    check(fields.refund && a.refund != b.refund, "refund");
    check(fields.mem_size && a.mem_size != b.mem_size, "mem_size");
    check(fields.return_data && a.return_data.is_some() && b.return_data.is_some() && a.return_data != b.return_data, "return_data");
    out
}

/// A client's trace, with what it reports.
#[derive(Clone, Copy, Debug)]
pub struct Traced<'a> {
    /// Client id.
    pub client: &'a str,
    /// Its trace (`None` when it gave none).
    pub trace: Option<&'a Trace>,
    /// The fields it reports.
    pub fields: TraceFields,
}

/// One client at the first difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStep {
    /// Client id.
    pub client: String,
    /// Its step there (`None` when its trace ended before).
    pub step: Option<Step>,
    /// The fields in which it differs from the first client's step.
    pub differs_in: Vec<String>,
    /// How many steps its whole trace has.
    pub trace_len: usize,
}

/// Where traces part ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstDifference {
    /// The instruction to blame: the opcode of the last common step (of the step itself when
    /// only its cost differs; of the call or creation when the difference shows on return), or
    /// `intrinsic` (the traces differ from the first step), the last instruction when the
    /// traces agree and it is a call, creation, RETURN, REVERT or SELFDESTRUCT, `post-state`
    /// (the traces agree throughout) or `untraced` (a client gave no trace).
    pub culprit: String,
    /// Index of the first differing step.
    pub index: Option<usize>,
    /// The last step all clients share.
    pub last_common: Option<Step>,
    /// Common steps before it, oldest first.
    pub context: Vec<Step>,
    /// Each client's step at `index`.
    pub clients: Vec<ClientStep>,
}

/// Finds where the traces of the given clients first differ; the first is the reference each
/// other is compared with.
pub fn first_difference(traced: &[Traced<'_>]) -> FirstDifference {
    let Some(reference) = traced.first() else {
        return FirstDifference { culprit: "untraced".into(), index: None, last_common: None, context: vec![], clients: vec![] };
    };
    let missing = traced.iter().any(|t| t.trace.is_none());
    let normalised: Vec<Option<Vec<&TraceStep>>> = traced.iter().map(|t| t.trace.map(normalise)).collect();
    let ref_trace: Vec<&TraceStep> = normalised[0].clone().unwrap_or_default();
    // The first index at which any client differs from the reference, or one trace ends.
    let mut index: Option<usize> = None;
    for (other, trace) in traced[1..].iter().zip(&normalised[1..]) {
        let Some(trace) = trace else { continue };
        let fields = reference.fields.common(other.fields);
        let common = ref_trace.len().min(trace.len());
        let at = (0..common)
            .find(|i| !differing_at(&ref_trace, trace, *i, fields).is_empty())
            .or_else(|| (ref_trace.len() != trace.len()).then_some(common));
        index = match (index, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let last_common = index.and_then(|i| i.checked_sub(1)).and_then(|k| ref_trace.get(k).map(|s| (k, *s)));
    let culprit = match (index, &last_common) {
        (Some(i), _) if cost_only(traced, &ref_trace, &normalised, i) => opcode_name(ref_trace[i].op),
        (Some(i), Some((k, s))) => {
            // Back in a caller: the call or creation that opened the frame just left is to blame.
            match ref_trace.get(i).filter(|d| d.depth < s.depth) {
                Some(d) => {
                    ref_trace[..*k].iter().rev().find(|x| x.depth == d.depth).map_or_else(|| opcode_name(s.op), |x| opcode_name(x.op))
                }
                None => opcode_name(s.op),
            }
        }
        (Some(_), None) => "intrinsic".to_owned(),
        (None, _) if missing => "untraced".to_owned(),
        // Nothing follows the last instruction, so a difference in its cost shows in no step:
        // blame it when it is one whose cost depends on state (a creation, a call, a
        // self-destruct, or memory growth by RETURN/REVERT).
        (None, _) => match ref_trace.last().filter(|s| matches!(s.op, 0xf0..=0xf5 | 0xfa | 0xfd | 0xff)) {
            Some(last) => opcode_name(last.op),
            None => "post-state".to_owned(),
        },
    };
    let context = match index {
        Some(i) => (i.saturating_sub(CONTEXT + 1)..i.saturating_sub(1))
            .filter_map(|k| ref_trace.get(k).map(|s| Step::of(k, s, reference.fields)))
            .collect(),
        None => Vec::new(),
    };
    let clients = traced
        .iter()
        .zip(&normalised)
        .map(|(t, trace)| {
            let step = index.and_then(|i| trace.as_ref().and_then(|tr| tr.get(i).copied()));
            let differs_in = match (index, trace) {
                (Some(i), Some(tr)) if i < ref_trace.len() && i < tr.len() => {
                    differing_at(&ref_trace, tr, i, reference.fields.common(t.fields)).into_iter().map(str::to_owned).collect()
                }
                (Some(i), Some(_)) if i < ref_trace.len() => vec!["ended".to_owned()],
                (Some(_), Some(tr)) if !tr.is_empty() && index.is_some_and(|i| i < tr.len()) => vec!["continues".to_owned()],
                _ => vec![],
            };
            ClientStep {
                client: t.client.to_owned(),
                step: step.zip(index).map(|(s, i)| Step::of(i, s, t.fields)),
                differs_in,
                trace_len: trace.as_ref().map_or(0, Vec::len),
            }
        })
        .collect();
    FirstDifference { culprit, index, last_common: last_common.map(|(i, s)| Step::of(i, s, reference.fields)), context, clients }
}

/// True when, at step `i`, clients differ only in the step's own cost: the instruction at `i` is
/// then the one to blame, not the one before.
fn cost_only(traced: &[Traced<'_>], ref_trace: &[&TraceStep], normalised: &[Option<Vec<&TraceStep>>], i: usize) -> bool {
    if i >= ref_trace.len() {
        return false;
    }
    let mut any = false;
    for (other, trace) in traced.iter().zip(normalised).skip(1) {
        let Some(trace) = trace.as_ref().filter(|t| i < t.len()) else { continue };
        let differs = differing_at(ref_trace, trace, i, traced[0].fields.common(other.fields));
        if differs.iter().any(|f| *f != "gas_cost") {
            return false;
        }
        any |= !differs.is_empty();
    }
    any
}

/// One account field or slot on which post-states differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDifference {
    /// The account.
    pub address: Address,
    /// `balance`, `nonce`, `code`, `storage[0x..]` or `account` (present in some, absent in others).
    pub what: String,
    /// Each client's value (`absent` where it has none).
    pub values: Vec<(String, String)>,
}

/// The account and slot differences between post-states (clients without a post-state are left
/// out).
pub fn state_differences(posts: &[(&str, Option<&Accounts>)]) -> Vec<StateDifference> {
    let posts: Vec<(&str, &Accounts)> = posts.iter().filter_map(|(c, p)| p.map(|p| (*c, p))).collect();
    let mut addresses: Vec<Address> = posts.iter().flat_map(|(_, p)| p.keys().copied()).collect();
    addresses.sort();
    addresses.dedup();
    let mut out = Vec::new();
    for address in addresses {
        let accounts: Vec<_> = posts.iter().map(|(c, p)| (*c, p.get(&address))).collect();
        let mut field = |what: String, value: &dyn Fn(&schism_interface::Account) -> String| {
            let values: Vec<(String, String)> =
                accounts.iter().map(|(c, a)| ((*c).to_owned(), a.map_or_else(|| "absent".to_owned(), value))).collect();
            if values.iter().any(|(_, v)| *v != values[0].1) {
                out.push(StateDifference { address, what, values });
            }
        };
        if accounts.iter().any(|(_, a)| a.is_none()) {
            field("account".into(), &|a| {
                format!("balance {}, nonce {}, {} code bytes, {} slots", a.balance, a.nonce, a.code.len(), a.storage.len())
            });
            continue;
        }
        field("balance".into(), &|a| a.balance.to_string());
        field("nonce".into(), &|a| a.nonce.to_string());
        field("code".into(), &|a| a.code.to_string());
        let mut slots: Vec<U256> = accounts.iter().flat_map(|(_, a)| a.iter().flat_map(|a| a.storage.keys().copied())).collect();
        slots.sort();
        slots.dedup();
        for slot in slots {
            field(format!("storage[{slot:#x}]"), &|a| format!("{:#x}", a.storage.get(&slot).copied().unwrap_or_default()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(pc: u64, op: u8, gas: u64, stack: &[u64]) -> TraceStep {
        TraceStep {
            pc,
            op,
            gas,
            gas_cost: 3,
            mem_size: 0,
            stack: stack.iter().map(|v| U256::from(*v)).collect(),
            depth: 1,
            refund: 0,
            return_data: None,
        }
    }

    #[test]
    fn the_culprit_is_the_last_common_instruction() {
        let a = vec![step(0, 0x60, 100, &[]), step(2, 0x60, 97, &[1]), step(4, 0x1d, 94, &[1, 2]), step(5, 0x50, 91, &[0])];
        let mut b = a.clone();
        b[3].stack = vec![U256::from(7)];
        let no_refund = TraceFields { refund: false, gas_cost: false, ..TraceFields::ALL };
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: no_refund },
        ]);
        assert_eq!(d.culprit, "SAR");
        assert_eq!(d.index, Some(3));
        assert_eq!(d.last_common.as_ref().map(|s| s.pc), Some(4));
        assert_eq!(d.context.len(), 2);
        assert_eq!(d.clients[1].differs_in, vec!["stack"]);
        assert_eq!(d.clients[1].step.as_ref().and_then(|s| s.refund), None, "not reported, not shown");
    }

    #[test]
    fn unreported_fields_do_not_count_and_equal_traces_blame_the_post_state() {
        let a = vec![step(0, 0x60, 100, &[])];
        let mut b = a.clone();
        b[0].refund = 4800;
        b[0].gas_cost = 0;
        let sputnik_like = TraceFields { refund: false, gas_cost: false, ..TraceFields::ALL };
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: sputnik_like },
        ]);
        assert_eq!((d.culprit.as_str(), d.index), ("post-state", None));
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: TraceFields::ALL },
        ]);
        assert_eq!((d.culprit.as_str(), d.index), ("intrinsic", Some(0)));
    }

    #[test]
    fn a_different_cost_blames_its_own_instruction_and_a_return_blames_the_call() {
        let a = vec![step(0, 0x60, 100, &[]), step(2, 0x0a, 97, &[1, 2]), step(3, 0x50, 40, &[1])];
        let mut b = a.clone();
        b[1].gas_cost = 60;
        b[2].gas = 37;
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: TraceFields::ALL },
        ]);
        assert_eq!((d.culprit.as_str(), d.index), ("EXP", Some(1)));
        let mut inner = step(0, 0xf3, 50, &[0, 0]);
        inner.depth = 2;
        let a = vec![step(0, 0x60, 100, &[]), step(2, 0xf5, 97, &[0, 0, 0, 0]), inner, step(3, 0x50, 40, &[0xaa])];
        let mut b = a.clone();
        b[3].stack = vec![U256::from(0xbb)];
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: TraceFields::ALL },
        ]);
        assert_eq!((d.culprit.as_str(), d.index), ("CREATE2", Some(3)));
    }

    #[test]
    fn a_shorter_trace_differs_where_it_ends() {
        let a = vec![step(0, 0x60, 100, &[]), step(2, 0x50, 97, &[1])];
        let b = vec![step(0, 0x60, 100, &[])];
        let d = first_difference(&[
            Traced { client: "a", trace: Some(&a), fields: TraceFields::ALL },
            Traced { client: "b", trace: Some(&b), fields: TraceFields::ALL },
        ]);
        assert_eq!((d.culprit.as_str(), d.index), ("PUSH1", Some(1)));
        assert_eq!(d.clients[1].differs_in, vec!["ended"]);
    }

    #[test]
    fn state_differences_list_slots_and_missing_accounts() {
        let mut a = Accounts::new();
        let mut acc = schism_interface::Account::default();
        acc.storage.insert(U256::from(1), U256::from(2));
        a.insert(Address::repeat_byte(1), acc.clone());
        let mut b = a.clone();
        b.get_mut(&Address::repeat_byte(1)).map(|x| x.storage.insert(U256::from(1), U256::from(3)));
        b.insert(Address::repeat_byte(2), schism_interface::Account::default());
        let d = state_differences(&[("a", Some(&a)), ("b", Some(&b))]);
        assert_eq!(d.len(), 2, "a slot and the extra account: {d:?}");
        assert!(d.iter().any(|x| x.what == "storage[0x1]" && x.values[1].1 == "0x3"));
    }
}
