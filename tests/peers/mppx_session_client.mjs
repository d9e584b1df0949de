// mppx 0.11's v1 session client (`sessionLegacyManager`) paying a URL, for
// testing our session server with a client we did not write. Runs with
// plain `node`; mppx and viem come from .tools/node_modules (scripts/test
// installs them).
//
// Configuration, all from the environment:
//   SESSION_URL         the paid URL                                   [required]
//   TEMPO_RPC_URL       the chain's JSON-RPC URL (anvil --network tempo) [required]
//   TEMPO_CHAIN_ID      chain id (default 1337)
//   PAYER_KEY           the payer's private key                        [required]
//   ESCROW_CONTRACT     the deployed TempoStreamChannel               [required]
//   MAX_DEPOSIT         the most the client deposits, decimal units (default "1")
//   REQUESTS            paid requests before the close (default 3)
//   STREAM              "yes": each request reads a metered SSE stream with
//                       manager.sse(), which answers payment-need-voucher
//   MPPX_NODE_MODULES   where mppx and viem are (default ../../.tools/node_modules)
//
// Prints one JSON line per request, `{"status":200,"receipt":"<header or
// null>","body":"..."}` (with STREAM, `{"messages":[...],"receipt":<the
// payment-receipt event's data>}`), then `{"close":<receipt or null>}`. Exits 1 with
// `{"error":"..."}` when the client gives up, 2 on bad configuration.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(
  process.env.MPPX_NODE_MODULES || join(here, '..', '..', '.tools', 'node_modules'),
);

function fail(message) {
  process.stderr.write(`mppx_session_client: ${message}\n`);
  process.exit(2);
}

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) fail(`${name} is required`);
  return fallback;
}

// The ESM entry point of `pkg` or `pkg/sub` in nodeModules (through the
// package's `exports` map: a bare import would look beside this file).
async function load(specifier) {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const sub = specifier.slice(name.length);
  const dir = join(nodeModules, name);
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch (error) {
    fail(`cannot find ${name} in ${nodeModules} (scripts/test installs it): ${error.message}`);
  }
  const entry = pkg.exports?.[`.${sub}`];
  const file = typeof entry === 'string' ? entry : (entry?.import ?? entry?.default);
  if (!file) fail(`${name} ${pkg.version} exports no ${specifier}`);
  return import(pathToFileURL(join(dir, file)).href);
}

const { sessionLegacyManager } = await load('mppx/client');
const { createClient, custom, http } = await load('viem');
const { privateKeyToAccount } = await load('viem/accounts');
const { tempo: tempoChain } = await load('viem/tempo/chains');

const url = env('SESSION_URL');
const rpcUrl = env('TEMPO_RPC_URL');
const chainId = Number(env('TEMPO_CHAIN_ID', '1337'));
const account = privateKeyToAccount(env('PAYER_KEY'));
const requests = Number(env('REQUESTS', '3'));

// viem's Tempo chain (its 0x76 serializers) under our chain id. viem 2.58
// gives an expiring-nonce transaction a random 48-bit nonce (newer Tempo
// hardforks accept it); anvil 1.7.1 runs hardfork T4, which refuses any
// expiring nonce but 0. The hook below sets it back to 0 after viem's own
// preparation: nothing else about what mppx signs changes.
const MAX_UINT256 = (1n << 256n) - 1n;
const [prepare, prepareOptions] = tempoChain.prepareTransactionRequest;
const chain = {
  ...tempoChain,
  id: chainId,
  rpcUrls: { default: { http: [rpcUrl] } },
  prepareTransactionRequest: [
    async (request, context) => {
      const prepared = (await prepare(request, context)) ?? request;
      if (prepared.nonceKey !== undefined && BigInt(prepared.nonceKey) === MAX_UINT256) {
        prepared.nonce = 0;
      }
      return prepared;
    },
    prepareOptions,
  ],
};
// anvil cannot estimate a Tempo transaction's calls (it ignores them), so
// what it answers for approve + open (to eth_fillTransaction, which viem
// 2.58 prepares with, or eth_estimateGas) is far too low and the open runs
// out of gas. Until it can, a multi-call transaction gets a fixed 3,000,000
// gas (approve ~530k + open ~1.32M, with room to spare).
const MULTI_CALL_GAS = '0x2dc6c0';
const node = http(rpcUrl)({ chain, retryCount: 0 });
const transport = custom({
  async request({ method, params }) {
    const multiCall = (params?.[0]?.calls?.length ?? 0) > 1;
    if (method === 'eth_estimateGas' && multiCall) return MULTI_CALL_GAS;
    const result = await node.request({ method, params });
    if (method === 'eth_fillTransaction' && multiCall && result?.tx?.gas) {
      result.tx.gas = MULTI_CALL_GAS;
    }
    return result;
  },
});
const client = createClient({ account, chain, transport });

const manager = sessionLegacyManager({
  account,
  client,
  escrowContract: env('ESCROW_CONTRACT'),
  maxDeposit: env('MAX_DEPOSIT', '1'),
});

try {
  for (let i = 0; i < requests; i++) {
    if (process.env.STREAM === 'yes') {
      let receipt = null;
      const messages = [];
      const stream = await manager.sse(url, { onReceipt: (r) => { receipt = r; } });
      for await (const data of stream) messages.push(data);
      console.log(JSON.stringify({ messages, receipt }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
      continue;
    }
    const response = await manager.fetch(url);
    const body = await response.text();
    const receipt = response.headers.get('payment-receipt');
    console.log(JSON.stringify({ status: response.status, receipt, body }));
  }
  const receipt = await manager.close();
  console.log(JSON.stringify({ close: receipt ?? null }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.stack ?? error) }));
  process.exit(1);
}
