//! EVM code as a list of instructions that can lose or change instructions and be assembled
//! again with its jumps still landing on their JUMPDESTs.
//!
//! Written here rather than taken from a crate: the minimiser needs exactly one thing no
//! disassembler offers, relocating the PUSHes that feed JUMP/JUMPI when instructions move.

use alloy_primitives::{Bytes, U256};

const PUSH0: u8 = 0x5f;
const PUSH1: u8 = 0x60;
const PUSH32: u8 = 0x7f;
const JUMP: u8 = 0x56;
const JUMPI: u8 = 0x57;
const JUMPDEST: u8 = 0x5b;

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The opcode byte.
    pub op: u8,
    /// PUSH immediate bytes (shorter than the opcode asks for when the code ends inside it).
    pub immediate: Vec<u8>,
    /// For a PUSH that feeds a JUMP or JUMPI: the index of the JUMPDEST it names.
    pub target: Option<usize>,
}

impl Instruction {
    /// A plain instruction.
    pub fn op(op: u8) -> Instruction {
        Instruction { op, immediate: Vec::new(), target: None }
    }

    /// The smallest PUSH of `value` (PUSH0 for zero when `push0` is allowed).
    pub fn push(value: U256, push0: bool) -> Instruction {
        if value.is_zero() && push0 {
            return Instruction::op(PUSH0);
        }
        let bytes = value.to_be_bytes_trimmed_vec();
        let bytes = if bytes.is_empty() { vec![0] } else { bytes };
        Instruction { op: PUSH1 + bytes.len() as u8 - 1, immediate: bytes, target: None }
    }

    /// True for PUSH1..PUSH32.
    pub fn is_push(&self) -> bool {
        (PUSH1..=PUSH32).contains(&self.op)
    }

    /// The value a PUSH puts on the stack.
    pub fn value(&self) -> U256 {
        let width = usize::from(self.op.saturating_sub(PUSH1)) + 1;
        let mut word = [0u8; 32];
        // A truncated PUSH at the end of the code reads zeroes for the missing bytes.
        let start = 32 - width;
        word[start..start + self.immediate.len()].copy_from_slice(&self.immediate);
        U256::from_be_bytes(word)
    }

    fn len(&self) -> usize {
        1 + self.immediate.len()
    }
}

/// Code as instructions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Program {
    /// The instructions, in order.
    pub instructions: Vec<Instruction>,
}

impl Program {
    /// Splits code into instructions and recognises the PUSH-then-JUMP pairs that name a
    /// JUMPDEST.
    pub fn parse(code: &[u8]) -> Program {
        let mut instructions = Vec::new();
        let mut offsets = Vec::new();
        let mut pc = 0;
        while pc < code.len() {
            let op = code[pc];
            let width = if (PUSH1..=PUSH32).contains(&op) { usize::from(op - PUSH1) + 1 } else { 0 };
            let end = (pc + 1 + width).min(code.len());
            offsets.push(pc);
            instructions.push(Instruction { op, immediate: code[pc + 1..end].to_vec(), target: None });
            pc = end;
        }
        for i in 0..instructions.len().saturating_sub(1) {
            let next = instructions[i + 1].op;
            if !instructions[i].is_push() || !(next == JUMP || next == JUMPI) {
                continue;
            }
            let value = instructions[i].value();
            let target = offsets.iter().position(|o| U256::from(*o) == value).filter(|t| instructions[*t].op == JUMPDEST);
            instructions[i].target = target;
        }
        Program { instructions }
    }

    /// How many instructions.
    pub fn len(&self) -> usize {
        self.instructions.len()
    }

    /// True when there is no instruction.
    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty()
    }

    /// The program without the instructions whose index `drop` says; jumps to a dropped
    /// JUMPDEST go to the next instruction kept.
    pub fn without(&self, drop: impl Fn(usize) -> bool) -> Program {
        let mut new_index = Vec::with_capacity(self.len());
        let mut kept = 0;
        for i in 0..self.len() {
            new_index.push(kept);
            if !drop(i) {
                kept += 1;
            }
        }
        let instructions = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop(*i))
            .map(|(_, ins)| Instruction { target: ins.target.map(|t| new_index[t]), ..ins.clone() })
            .collect();
        Program { instructions }
    }

    /// The code, with every jump PUSH rewritten to where its JUMPDEST now is. A jump PUSH keeps
    /// its width unless the offset no longer fits.
    pub fn assemble(&self) -> Bytes {
        // Offsets depend on widths and widths on offsets: widen until stable.
        let mut widths: Vec<usize> = self.instructions.iter().map(Instruction::len).collect();
        loop {
            let mut offsets = Vec::with_capacity(widths.len() + 1);
            let mut pc = 0;
            for w in &widths {
                offsets.push(pc);
                pc += w;
            }
            offsets.push(pc);
            let mut changed = false;
            for (i, ins) in self.instructions.iter().enumerate() {
                if let Some(t) = ins.target {
                    let need = 1 + U256::from(offsets[t]).to_be_bytes_trimmed_vec().len().max(1);
                    if need > widths[i] {
                        widths[i] = need;
                        changed = true;
                    }
                }
            }
            if changed {
                continue;
            }
            let mut code = Vec::with_capacity(pc);
            for (i, ins) in self.instructions.iter().enumerate() {
                match ins.target {
                    Some(t) => {
                        let bytes = U256::from(offsets[t]).to_be_bytes::<32>();
                        let width = widths[i] - 1;
                        code.push(PUSH1 + width as u8 - 1);
                        code.extend_from_slice(&bytes[32 - width..]);
                    }
                    None => {
                        code.push(ins.op);
                        code.extend_from_slice(&ins.immediate);
                    }
                }
            }
            return code.into();
        }
    }
}

/// A readable listing: `PUSH1 0x2a`, `SSTORE`, ... one per line.
pub fn listing(code: &[u8]) -> Vec<String> {
    Program::parse(code)
        .instructions
        .iter()
        .map(|i| {
            let name = opcode_name(i.op);
            if i.is_push() { format!("{name} 0x{}", alloy_primitives::hex::encode(&i.immediate)) } else { name }
        })
        .collect()
}

/// The mnemonic of an opcode byte (`0x..` for bytes no fork defines).
pub fn opcode_name(op: u8) -> String {
    match revm_bytecode::opcode::OpCode::new(op) {
        Some(opcode) => opcode.as_str().to_owned(),
        None => format!("0x{op:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_assemble_round_trip_including_a_truncated_push() {
        let code = [0x60, 0x01, 0x60, 0x02, 0x01, 0x61, 0xff];
        let p = Program::parse(&code);
        assert_eq!(p.len(), 4);
        assert_eq!(p.assemble().as_ref(), &code);
        assert_eq!(p.instructions[3].value(), U256::from(0xff00), "missing bytes read as zero");
    }

    #[test]
    fn dropping_instructions_keeps_jumps_on_their_jumpdests() {
        // PUSH1 1, POP, PUSH2 0x0009, JUMP, INVALID, INVALID, JUMPDEST(at 9)... layout:
        // 0: PUSH1 1 | 2: POP | 3: PUSH2 0x0008 | 6: JUMP | 7: INVALID | 8: JUMPDEST | 9: STOP
        let code = [0x60, 0x01, 0x50, 0x61, 0x00, 0x08, 0x56, 0xfe, 0x5b, 0x00];
        let p = Program::parse(&code);
        assert_eq!(p.instructions[2].target, Some(5));
        let smaller = p.without(|i| i == 0 || i == 1 || i == 4);
        let code = smaller.assemble();
        // PUSH2 0x0004 | JUMP | JUMPDEST | STOP
        assert_eq!(code.as_ref(), &[0x61, 0x00, 0x04, 0x56, 0x5b, 0x00]);
    }

    #[test]
    fn a_jump_whose_jumpdest_is_dropped_goes_to_the_next_instruction() {
        let code = [0x60, 0x04, 0x56, 0xfe, 0x5b, 0x00];
        let p = Program::parse(&code).without(|i| i == 3);
        assert_eq!(p.assemble().as_ref(), &[0x60, 0x04, 0x56, 0xfe, 0x00]);
    }

    #[test]
    fn smallest_push_and_listing() {
        assert_eq!(Instruction::push(U256::ZERO, true).op, PUSH0);
        assert_eq!(Instruction::push(U256::ZERO, false).immediate, vec![0]);
        assert_eq!(Instruction::push(U256::from(0x1234), true).op, 0x61);
        assert_eq!(listing(&[0x60, 0x2a, 0x55]), vec!["PUSH1 0x2a", "SSTORE"]);
    }
}
