"""schism's long-lived state-test runner for py-evm (PyPI `py-evm`, module `eth`).

py-evm ships no state-test runner (its own GeneralStateTests harness, `tests/json-fixtures/
test_state.py`, was removed in favour of blockchain tests), so this runner builds each case
from py-evm's parts the way that harness did: a fresh `AtomicDB` with the pre-state, the fork's
`State` class over an `ExecutionContext` from `env`, the transaction from the fork's builder,
then `State.apply_transaction` and the fork VM's `make_receipt`. The protocol is shared with the
EELS and EthereumJS runners (see ../ethereumjs/README.md):

    python runner.py [--trace] [--version]

Reads state-test file paths from stdin, one per line; an empty line or EOF ends it. Per
(test, fork, post entry): with --trace, EIP-3155 step lines, then one summary line
`{"name","fork","index","stateRoot","logsHash","gasUsed","status","error"}`, or
`{"name","fork","index","fault"}` when the case cannot be run (a fork py-evm lacks). An
unreadable file gives one `{"fault"}` line. Diagnostics go to stderr.
"""

import json
import sys
import traceback


def _version() -> str:
    from importlib.metadata import version

    return version("py-evm")


# ---------------------------------------------------------------------------
# numbers and bytes (fixtures write 0x-hex, sometimes odd-length or empty)


def _int(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text in ("", "0x", "0X"):
        return 0
    return int(text, 16) if text[:2].lower() == "0x" else int(text)


def _bytes(value) -> bytes:
    if value is None:
        return b""
    text = str(value)
    if text[:2].lower() == "0x":
        text = text[2:]
    if len(text) % 2:
        text = "0" + text
    return bytes.fromhex(text)


def _addr(value) -> bytes:
    raw = _bytes(value)
    return raw.rjust(20, b"\x00") if len(raw) < 20 else raw


def _word(value) -> bytes:
    return _bytes(value).rjust(32, b"\x00")


# ---------------------------------------------------------------------------
# forks


def _vms():
    """The fixture fork names py-evm implements, each with its VM class."""
    from eth.vm import forks as f

    homestead = f.HomesteadVM.configure(support_dao_fork=False)
    return {
        "Frontier": f.FrontierVM,
        "Homestead": homestead,
        "EIP150": f.TangerineWhistleVM,
        "EIP158": f.SpuriousDragonVM,
        "Byzantium": f.ByzantiumVM,
        "Constantinople": f.ConstantinopleVM,
        "ConstantinopleFix": f.PetersburgVM,
        "Istanbul": f.IstanbulVM,
        "MuirGlacier": f.MuirGlacierVM,
        "Berlin": f.BerlinVM,
        "London": f.LondonVM,
        "ArrowGlacier": f.ArrowGlacierVM,
        "GrayGlacier": f.GrayGlacierVM,
        "Paris": f.ParisVM,
        "Merge": f.ParisVM,
        "Shanghai": f.ShanghaiVM,
        "Cancun": f.CancunVM,
        "Prague": f.PragueVM,
    }


# Forks before EIP-161 keep an empty coinbase (see `_touch_coinbase`).
_PRE_CLEARING = {"Frontier", "Homestead", "EIP150"}
_LONDON_ON = {"London", "ArrowGlacier", "GrayGlacier", "Paris", "Merge", "Shanghai", "Cancun", "Prague"}
_PARIS_ON = {"Paris", "Merge", "Shanghai", "Cancun", "Prague"}
_CANCUN_ON = {"Cancun", "Prague"}


# ---------------------------------------------------------------------------
# the sender without a signature

# A signature costs a secp256k1 sign and two recoveries per case in py-evm's pure-Python
# backend (about 40 ms, more than most cases take to execute). As the EthereumJS runner does,
# the transaction carries a placeholder signature (r = s = 1, in range for every fork's checks)
# and the sender is the address of `secretKey`, computed once per key: py-evm's sender recovery
# and signature check are replaced by that. Nothing else in execution reads the signature.
# EIP-7702 authorizations keep their real signatures and py-evm recovers them as usual.
_SENDER = [None]


def _patch_sender_recovery():
    import eth.vm.forks.berlin.transactions as berlin
    import eth.vm.forks.cancun.transactions as cancun
    import eth.vm.forks.frontier.transactions as frontier
    import eth.vm.forks.london.transactions as london
    import eth.vm.forks.prague.transactions as prague

    for module in (frontier, berlin, london, cancun, prague):
        if hasattr(module, "extract_transaction_sender"):
            module.extract_transaction_sender = lambda _tx: _SENDER[0]
        if hasattr(module, "validate_transaction_signature"):
            module.validate_transaction_signature = lambda _tx: None


_KEYS = {}


def _sender_of(secret: bytes) -> bytes:
    address = _KEYS.get(secret)
    if address is None:
        from eth_keys import keys

        address = keys.PrivateKey(secret).public_key.to_canonical_address()
        if len(_KEYS) > 4096:
            _KEYS.clear()
        _KEYS[secret] = address
    return address


# ---------------------------------------------------------------------------
# rejections: py-evm's ValidationError messages in the words schism's `reasons` table reads

_REJECTIONS = (
    ("invalid transaction nonce: expected", None),  # split below by the numbers
    ("nonce", "nonce has max value"),
    ("insufficient gas", "intrinsic gas too low"),
    ("floor", "insufficient gas for floor data gas cost"),
    ("blob base fee", "max fee per blob gas less than block blob gas fee"),
    ("at least one blob", "missing blob hashes"),
    ("exceeded maximum blob gas", "too many blobs"),
    ("max fee per gas", "max fee per gas less than block base fee"),
    ("priority fee", "max priority fee per gas higher than max fee per gas"),
    ("cannot afford", "insufficient funds for gas * price + value"),
    ("enough balance", "insufficient funds for gas * price + value"),
    ("insufficient funds", "insufficient funds for gas * price + value"),
    ("exceeds gas limit", "gas limit reached"),
    ("initcode", "max initcode size exceeded"),
    ("eip-3860", "max initcode size exceeded"),
    ("authorization list", "empty auth list"),
    ("chain id", "invalid chain id"),
)


def _rejection(message: str, tx_nonce=None, state_nonce=None) -> str:
    lower = message.lower()
    for fragment, words in _REJECTIONS:
        if fragment in lower:
            if words is None:
                if tx_nonce is not None and state_nonce is not None:
                    return ("nonce too low: " if tx_nonce < state_nonce else "nonce too high: ") + message
                continue
            return f"{words}: {message}"
    return message


# ---------------------------------------------------------------------------
# halts: py-evm's VMError classes in the words of geth's core/vm/errors.go

_HALTS = {
    "OutOfGas": "out of gas",
    "InsufficientStack": "stack underflow",
    "FullStack": "stack limit reached",
    "InvalidJumpDestination": "invalid jump destination",
    "InvalidInstruction": "invalid opcode",
    "WriteProtection": "write protection",
    "OutOfBoundsRead": "return data out of bounds",
    "ContractCreationCollision": "contract address collision",
    "ReservedBytesInCode": "invalid code: must not begin with 0xef",
}


def _halt(error) -> str:
    name = type(error).__name__
    words = _HALTS.get(name)
    text = str(error)
    if name == "OutOfGas" and "code size" in text.lower():
        words = "max code size exceeded"
    return f"{words or name}: {text}" if text else (words or name)


# ---------------------------------------------------------------------------
# building a case


def _block_hashes(number: int):
    """BLOCKHASH(n) in state tests is keccak256(decimal string of n), as in geth's runner."""
    from eth_hash.auto import keccak

    for depth in range(min(256, number)):
        yield keccak(str(number - 1 - depth).encode())


def _context(fork: str, env: dict, chain_id: int):
    from eth.vm.execution_context import ExecutionContext

    number = _int(env.get("currentNumber"))
    return ExecutionContext(
        coinbase=_addr(env.get("currentCoinbase")),
        timestamp=_int(env.get("currentTimestamp")),
        block_number=number,
        difficulty=0 if fork in _PARIS_ON else _int(env.get("currentDifficulty")),
        mix_hash=_word(env.get("currentRandom") or "0x"),
        gas_limit=_int(env.get("currentGasLimit")),
        prev_hashes=_block_hashes(number),
        chain_id=chain_id,
        base_fee_per_gas=_int(env.get("currentBaseFee", "0x0a")) if fork in _LONDON_ON else None,
        excess_blob_gas=_int(env.get("currentExcessBlobGas")) if fork in _CANCUN_ON else None,
    )


def _fresh_state(vm, db, context, root):
    return vm.get_state_class()(db, context, root)


def _pre_state(vm, db, context, pre: dict):
    from eth.constants import BLANK_ROOT_HASH

    state = _fresh_state(vm, db, context, BLANK_ROOT_HASH)
    for address, account in pre.items():
        where = _addr(address)
        for slot, value in (account.get("storage") or {}).items():
            if _int(value):
                state.set_storage(where, _int(slot), _int(value))
        state.set_nonce(where, _int(account.get("nonce")))
        state.set_code(where, _bytes(account.get("code")))
        state.set_balance(where, _int(account.get("balance")))
    state.persist()
    return state.state_root


def _access_list(entries):
    return [(_addr(e["address"]), [_int(k) for k in e.get("storageKeys") or []]) for e in entries or []]


def _transaction(vm, tx: dict, indexes: dict, chain_id: int):
    """The case's transaction from the fork's builder, with the placeholder signature."""
    builder = vm.get_transaction_builder()
    to = tx.get("to")
    common = dict(
        nonce=_int(tx.get("nonce")),
        gas=_int(tx["gasLimit"][indexes.get("gas", 0)]),
        to=_addr(to) if to not in (None, "", "0x") else b"",
        value=_int(tx["value"][indexes.get("value", 0)]),
        data=_bytes(tx["data"][indexes.get("data", 0)]),
    )
    lists = tx.get("accessLists")
    access = _access_list(lists[indexes.get("data", 0)] if lists is not None else tx.get("accessList"))
    if "authorizationList" in tx:
        if not hasattr(builder, "new_set_code_transaction"):
            raise _Unsupported("transaction type not supported: set-code transaction before Prague")
        from eth.vm.forks.prague.transactions import Authorization

        auths = [
            Authorization(
                chain_id=_int(a.get("chainId")),
                address=_addr(a.get("address")),
                nonce=_int(a.get("nonce")),
                y_parity=_int(a.get("yParity", a.get("v"))),
                r=_int(a.get("r")),
                s=_int(a.get("s")),
            )
            for a in tx["authorizationList"]
        ]
        return builder.new_set_code_transaction(
            chain_id=chain_id,
            max_priority_fee_per_gas=_int(tx.get("maxPriorityFeePerGas")),
            max_fee_per_gas=_int(tx.get("maxFeePerGas")),
            access_list=access,
            authorization_list=auths,
            y_parity=0,
            r=1,
            s=1,
            **common,
        )
    if "blobVersionedHashes" in tx:
        if not hasattr(builder, "new_blob_transaction"):
            raise _Unsupported("transaction type not supported: blob transaction before Cancun")
        return builder.new_blob_transaction(
            chain_id=chain_id,
            max_priority_fee_per_gas=_int(tx.get("maxPriorityFeePerGas")),
            max_fee_per_gas=_int(tx.get("maxFeePerGas")),
            access_list=access,
            max_fee_per_blob_gas=_int(tx.get("maxFeePerBlobGas")),
            blob_versioned_hashes=[_word(h) for h in tx["blobVersionedHashes"]],
            y_parity=0,
            r=1,
            s=1,
            **common,
        )
    if "maxFeePerGas" in tx:
        if not hasattr(builder, "new_dynamic_fee_transaction"):
            raise _Unsupported("transaction type not supported: fee-market transaction before London")
        return builder.new_dynamic_fee_transaction(
            chain_id=chain_id,
            max_priority_fee_per_gas=_int(tx.get("maxPriorityFeePerGas")),
            max_fee_per_gas=_int(tx.get("maxFeePerGas")),
            access_list=access,
            y_parity=0,
            r=1,
            s=1,
            **common,
        )
    if lists is not None:
        if not hasattr(builder, "new_access_list_transaction"):
            raise _Unsupported("transaction type not supported: access-list transaction before Berlin")
        return builder.new_access_list_transaction(
            chain_id=chain_id, gas_price=_int(tx.get("gasPrice")), access_list=access, y_parity=0, r=1, s=1, **common
        )
    return builder.new_transaction(gas_price=_int(tx.get("gasPrice")), v=27, r=1, s=1, **common)


class _Unsupported(Exception):
    """A transaction the fork has no type for: a rejection, as the other clients report it."""


def _block_checks(fork: str, tx, gas_limit: int) -> None:
    """The checks py-evm makes on a transaction at block level (`validate_transaction_against_
    header` and `validate_block_blobs`), which a state test's single-transaction block has too."""
    from eth_utils import ValidationError

    if tx.gas > gas_limit:
        raise ValidationError(f"Transaction exceeds gas limit: using {tx.gas}, but limit is {gas_limit}")
    if fork in _CANCUN_ON and getattr(tx, "type_id", None) == 3:
        from eth.vm.forks.cancun.state import get_total_blob_gas

        if fork == "Prague":
            from eth.vm.forks.prague.constants import MAX_BLOB_GAS_PER_BLOCK
        else:
            from eth.vm.forks.cancun.constants import MAX_BLOB_GAS_PER_BLOCK
        if get_total_blob_gas(tx) > MAX_BLOB_GAS_PER_BLOCK:
            raise ValidationError("Block exceeded maximum blob gas limit.")


def _touch_coinbase(fork: str, state) -> None:
    """What geth's state-test runner does after the transaction (a zero-value reward to the
    coinbase, then EIP-161 clearing), which py-evm's own harness did by hand: the filled
    fixtures come from it. Before EIP-161 the coinbase exists afterwards, empty or not."""
    coinbase = state.coinbase
    if fork in _PRE_CLEARING:
        state.touch_account(coinbase)
    elif state.account_exists(coinbase) and state.account_is_empty(coinbase):
        state.delete_account(coinbase)


def _logs_hash(computation) -> bytes:
    import rlp
    from eth_hash.auto import keccak

    entries = [] if computation is None else computation.get_log_entries()
    logs = [[address, [t.to_bytes(32, "big") if isinstance(t, int) else t for t in topics], data] for address, topics, data in entries]
    return keccak(rlp.encode(logs))


class _Base:
    gas_used = 0


def run_case(vms, tracer, name, fork, index, test, entry):
    from eth.db.atomic import AtomicDB
    from eth.exceptions import VMError
    from eth_utils import ValidationError

    vm = vms.get(fork)
    head = {"name": name, "fork": fork, "index": index}
    if vm is None:
        return {**head, "fault": f"unsupported fork: {fork} (py-evm {_version()} implements {', '.join(vms)})"}
    config = test.get("config") or {}
    chain_id = _int(config.get("chainid", config.get("chainId", "0x01")))
    env = test.get("env") or {}
    context = _context(fork, env, chain_id)
    db = AtomicDB()
    pre_root = _pre_state(vm, db, context, test.get("pre") or {})
    state = _fresh_state(vm, db, context, pre_root)
    tx_fields = test.get("transaction") or {}

    computation, rejection, gas_used = None, None, 0
    try:
        _SENDER[0] = _sender_of(_word(tx_fields["secretKey"]))
        tx = _transaction(vm, tx_fields, entry.get("indexes") or {}, chain_id)
        _block_checks(fork, tx, context.gas_limit)
        if tracer is not None:
            tracer.start()
        state.lock_changes()
        computation = state.apply_transaction(tx)
        gas_used = vm.make_receipt(_Base(), tx, computation, state).gas_used
    except (ValidationError, _Unsupported) as e:
        sender_nonce = state.get_nonce(_SENDER[0]) if _SENDER[0] is not None else None
        tx_nonce = _int(tx_fields.get("nonce"))
        rejection = _rejection(str(e) or type(e).__name__, tx_nonce, sender_nonce)
    except VMError as e:
        # A VM error that escapes `apply_transaction` (Shanghai's initcode limit on a creating
        # transaction is checked as `OutOfGas` before the frame exists) aborts py-evm's block
        # import: the transaction is invalid.
        rejection = _rejection(f"{type(e).__name__}: {e}")
    except (ValueError, TypeError, OverflowError) as e:
        # Fields py-evm's serializers refuse (a value or nonce beyond its width): invalid
        # transactions, which every client rejects.
        rejection = _rejection(f"{type(e).__name__}: {e}")
    finally:
        if tracer is not None:
            tracer.stop()
    if rejection is not None:
        computation, gas_used = None, 0
        state = _fresh_state(vm, db, context, pre_root)
    _touch_coinbase(fork, state)
    state.persist()

    out = {**head, "stateRoot": "0x" + state.state_root.hex(), "logsHash": "0x" + _logs_hash(computation).hex(), "gasUsed": hex(gas_used)}
    if rejection is not None:
        out.update(status="rejected", error=rejection)
    elif computation.is_error:
        from eth.exceptions import Revert

        reverted = isinstance(computation.error, Revert)
        out.update(status="revert" if reverted else "halt", error="execution reverted" if reverted else _halt(computation.error))
    else:
        out.update(status="success", error=None)
    return out


# ---------------------------------------------------------------------------
# tracing


class Tracer:
    """EIP-3155 steps from py-evm's opcode loop: every computation class's opcode table is
    wrapped so that each instruction records its step before it runs; its gas cost is what the
    frame's gas went down by when it returns (for calls and creates, the gas the child frame
    was given and did not return is part of it, as in geth's traces)."""

    def __init__(self, vms):
        self.steps = None
        for vm in set(vms.values()):
            computation = vm.get_state_class().computation_class
            if computation.__dict__.get("_schism_traced", False):
                continue
            computation.opcodes = _TracedTable(computation.opcodes, self)
            computation._schism_traced = True

    def start(self):
        self.steps = []

    def stop(self):
        pass

    def lines(self):
        steps, self.steps = self.steps or [], None
        return [json.dumps(s, separators=(",", ":")) for s in steps]


class _TracedTable(dict):
    def __init__(self, table, tracer):
        super().__init__({op: _traced(op, fn, tracer) for op, fn in table.items()})
        self._tracer = tracer

    def __missing__(self, op):
        from eth.vm.logic.invalid import InvalidOpcode

        return _traced(op, InvalidOpcode(op), self._tracer)


def _traced(op, fn, tracer):
    def step(computation):
        steps = tracer.steps
        if steps is None:
            return fn(computation=computation)
        gas = computation.get_gas_remaining()
        stack = [hex(v if isinstance(v, int) else int.from_bytes(v, "big")) for v in computation._stack.values]
        record = {
            "pc": max(0, computation.code.program_counter - 1),
            "op": op,
            "gas": hex(gas),
            "gasCost": "0x0",
            "memSize": len(computation._memory),
            "stack": stack,
            "depth": computation.msg.depth + 1,
            "refund": computation.get_gas_refund(),
        }
        steps.append(record)
        try:
            return fn(computation=computation)
        finally:
            record["gasCost"] = hex(max(0, gas - computation.get_gas_remaining()))

    return step


# ---------------------------------------------------------------------------


def main() -> int:
    if "--version" in sys.argv:
        print(_version(), flush=True)
        return 0
    vms = _vms()
    _patch_sender_recovery()
    tracer = Tracer(vms) if "--trace" in sys.argv else None
    stdout = sys.stdout
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            break
        try:
            with open(path, encoding="utf-8") as f:
                tests = json.load(f)
            items = [(name, test) for name, test in tests.items() if isinstance(test, dict) and "post" in test]
        except Exception as e:  # a bad file is one fault line, never the end of the runner
            print(json.dumps({"fault": f"{path}: {e}"}), file=stdout, flush=True)
            continue
        for name, test in items:
            for fork, entries in test["post"].items():
                for index, entry in enumerate(entries):
                    try:
                        out = run_case(vms, tracer, name, fork, index, test, entry)
                    except Exception as e:  # noqa: BLE001 - one case's crash is a fault line
                        traceback.print_exc(file=sys.stderr)
                        out = {"name": name, "fork": fork, "index": index, "fault": f"{type(e).__name__}: {e}"}
                    if tracer is not None:
                        for step in tracer.lines():
                            stdout.write(step + "\n")
                    stdout.write(json.dumps(out) + "\n")
                    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
