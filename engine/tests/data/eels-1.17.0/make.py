# Writes delegate-warm-before-authorizations.json (run with an EELS venv's python, which has
# coincurve and ethereum_rlp; the argument is the post-state root revm computes):
#   tools/eels/venv/bin/python make.py 0x44dec6... > delegate-warm-before-authorizations.json
import json, sys
from coincurve import PrivateKey
from ethereum_rlp import rlp
from ethereum.crypto.hash import keccak256
from ethereum_types.numeric import U256, Uint

def addr_of(key: bytes) -> bytes:
    pub = PrivateKey(key).public_key.format(compressed=False)[1:]
    return keccak256(pub)[12:]

SENDER_KEY = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
AUTH_KEY = bytes.fromhex("00" * 31 + "a1")
A = addr_of(AUTH_KEY)
S = addr_of(SENDER_KEY)
D1 = bytes.fromhex("00" * 19 + "d1")
D2 = bytes.fromhex("00" * 19 + "d2")
chain_id, nonce = 1, 1
msg = keccak256(b"\x05" + rlp.encode([Uint(chain_id), D2, Uint(nonce)]))
sig = PrivateKey(AUTH_KEY).sign_recoverable(msg, hasher=None)
r, s, y = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
h = lambda b: "0x" + b.hex()
# GAS PUSH20 D1 BALANCE POP GAS SWAP1 SUB PUSH0 SSTORE STOP: slot 0 = BALANCE's cost + 7
code = bytes([0x5a, 0x73]) + D1 + bytes([0x31, 0x50, 0x5a, 0x90, 0x03, 0x5f, 0x55, 0x00])
test = {
  "delegate_warm_before_authorizations": {
    "_info": {"comment": "schism hand case: ethereum-execution 1.17.0 marks the pre-state delegate of a type-4 transaction's target warm before the transaction's own authorizations re-delegate it (fixed in 2.18.0). Slot 0 of the authority is the cost of BALANCE of the old delegate plus 7: 2607 cold (the specification), 107 warm (1.17.0)."},
    "env": {
      "currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
      "currentDifficulty": "0x0",
      "currentRandom": "0x0000000000000000000000000000000000000000000000000000000000020000",
      "currentGasLimit": "0x1c9c380",
      "currentNumber": "0x1",
      "currentTimestamp": "0x3e8",
      "currentBaseFee": "0x7",
      "currentExcessBlobGas": "0x0"
    },
    "pre": {
      h(S): {"balance": "0xde0b6b3a7640000", "code": "0x", "nonce": "0x0", "storage": {}},
      h(A): {"balance": "0x0", "code": "0xef0100" + D1.hex(), "nonce": "0x1", "storage": {}},
      h(D1): {"balance": "0x1", "code": "0x00", "nonce": "0x1", "storage": {}},
      h(D2): {"balance": "0x0", "code": h(code), "nonce": "0x1", "storage": {}}
    },
    "transaction": {
      "data": ["0x"], "gasLimit": ["0x30d40"], "value": ["0x0"],
      "nonce": "0x0", "to": h(A),
      "maxFeePerGas": "0x3e8", "maxPriorityFeePerGas": "0x1",
      "accessLists": [[]],
      "authorizationList": [{"chainId": hex(chain_id), "address": h(D2), "nonce": hex(nonce), "v": hex(y), "yParity": hex(y), "r": hex(r), "s": hex(s), "signer": h(A)}],
      "sender": h(S),
      "secretKey": h(SENDER_KEY)
    },
    "post": {"Prague": [{"hash": sys.argv[1] if len(sys.argv) > 1 else "0x" + "00"*32, "logs": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "indexes": {"data": 0, "gas": 0, "value": 0}}]},
    "config": {"chainid": "0x1"}
  }
}
print(json.dumps(test, indent=2))
