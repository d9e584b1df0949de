// mppx 0.11's EVM charge (`mppx/evm`, EIP-3009 authorizations only) as a
// peer we did not write: MODE=pay pays a URL with its client, MODE=serve
// runs its server, settling through our test stablecoin on a plain anvil.
// Runs with plain `node`; mppx and viem come from .tools/node_modules
// (scripts/test installs them).
//
// Configuration, all from the environment:
//   MODE              "pay" or "serve"                                  [required]
//   EVM_RPC_URL       the plain chain's JSON-RPC URL                    [required]
//   EVM_CHAIN_ID      chain id (default 31337)
//   EVM_CURRENCY      the EIP-3009 token                                [required]
//   EVM_TOKEN_NAME, EVM_TOKEN_VERSION  its EIP-712 domain (default "USD Coin", "2")
//   pay:   PAY_URL (the paid URL), PAYER_KEY                            [required]
//   serve: EVM_RECIPIENT, EVM_GAS_PAYER_KEY (submits the authorizations),
//          MPP_SECRET_KEY (at least 32 bytes)                           [required];
//          PEER_PORT (default 0), MPP_REALM (default 127.0.0.1)
//   MPPX_NODE_MODULES where mppx and viem are (default ../../.tools/node_modules)
//
// pay prints one JSON line `{"status":N,"receipt":"<header or null>","body":"..."}`.
// serve answers GET /paid (0.01) with 200 `{"paid":true}` and a receipt,
// prints `listening http://127.0.0.1:PORT` once it listens, and exits when
// stdin closes or on SIGTERM; settlement failures go to stderr.

import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(
  process.env.MPPX_NODE_MODULES || join(here, '..', '..', '.tools', 'node_modules'),
);

// ESM entry point of `pkg` or `pkg/sub` in nodeModules, by the package's
// `exports` map (a bare import would resolve from this file's directory).
async function load(specifier) {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const sub = specifier.slice(name.length);
  const dir = join(nodeModules, name);
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch (error) {
    fail(`cannot find ${name} in ${nodeModules} (run scripts/test, which installs mppx and viem there): ${error.message}`);
  }
  const entry = pkg.exports?.[`.${sub}`];
  const file = typeof entry === 'string' ? entry : (entry?.import ?? entry?.default);
  if (!file) fail(`${name} ${pkg.version} exports no ${specifier}`);
  return import(pathToFileURL(join(dir, file)).href);
}

function fail(message) {
  process.stderr.write(`mppx_evm: ${message}\n`);
  process.exit(2);
}

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) fail(`${name} is required`);
  return fallback;
}

const { createWalletClient, createPublicClient, http: httpTransport, parseSignature } = await load('viem');
const { privateKeyToAccount } = await load('viem/accounts');

const rpcUrl = env('EVM_RPC_URL');
const chainId = Number(env('EVM_CHAIN_ID', '31337'));
const currency = env('EVM_CURRENCY');
const authorization = { name: env('EVM_TOKEN_NAME', 'USD Coin'), version: env('EVM_TOKEN_VERSION', '2') };
const chain = {
  id: chainId,
  name: 'anvil',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [rpcUrl] } },
};

const mode = env('MODE');
if (mode === 'pay') await pay();
else if (mode === 'serve') await serve();
else fail(`MODE must be "pay" or "serve", not ${mode}`);

async function pay() {
  const { Mppx } = await load('mppx/client');
  const { evm } = await load('mppx/evm/client');
  const account = privateKeyToAccount(env('PAYER_KEY'));
  const mppx = Mppx.create({
    methods: [evm.charge({ account, authorization })],
    polyfill: false,
  });
  const response = await mppx.fetch(env('PAY_URL'));
  const body = await response.text();
  const receipt = response.headers.get('payment-receipt');
  process.stdout.write(`${JSON.stringify({ status: response.status, receipt, body })}\n`);
}

async function serve() {
  const { Mppx } = await load('mppx/server');
  const { evm } = await load('mppx/evm/server');
  const gas = privateKeyToAccount(env('EVM_GAS_PAYER_KEY'));
  const wallet = createWalletClient({ account: gas, chain, transport: httpTransport(rpcUrl) });
  const reader = createPublicClient({ chain, transport: httpTransport(rpcUrl) });
  const abi = [{
    type: 'function', name: 'transferWithAuthorization', stateMutability: 'nonpayable', outputs: [],
    inputs: ['from', 'to', 'value', 'validAfter', 'validBefore', 'nonce', 'v', 'r', 's'].map((name, i) => ({
      name,
      type: ['address', 'address', 'uint256', 'uint256', 'uint256', 'bytes32', 'uint8', 'bytes32', 'bytes32'][i],
    })),
  }];
  // The settlement mppx leaves to the application: submit the
  // authorization, succeed only on a mined, successful transaction.
  async function settle({ payload }) {
    const { r, s, v, yParity } = parseSignature(payload.signature);
    const hash = await wallet.writeContract({
      address: currency,
      abi,
      functionName: 'transferWithAuthorization',
      args: [payload.from, payload.to, BigInt(payload.value), BigInt(payload.validAfter),
        BigInt(payload.validBefore), payload.nonce, Number(v ?? 27n + BigInt(yParity)), r, s],
    });
    const receipt = await reader.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`transferWithAuthorization ${hash} reverted`);
    return { reference: hash };
  }
  const mppx = Mppx.create({
    methods: [evm.charge({
      currency, chainId, decimals: 6, authorization, recipient: env('EVM_RECIPIENT'), settle,
    })],
    realm: env('MPP_REALM', '127.0.0.1'),
    secretKey: env('MPP_SECRET_KEY'),
  });
  mppx.onPaymentFailed?.((context) => {
    process.stderr.write(`payment failed: ${context.error?.message ?? context.error}\n`);
  });
  const handler = Mppx.toNodeListener(mppx.charge({ amount: '0.01' }));
  const server = http.createServer(async (req, res) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/paid') {
      res.writeHead(404).end('not found\n');
      return;
    }
    try {
      const result = await handler(req, res);
      if (result.status === 402) return;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ paid: true }));
    } catch (error) {
      process.stderr.write(`handler error: ${error?.stack ?? error}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end(`internal error: ${error?.message ?? error}\n`);
    }
  });
  const shutdown = () => { server.close(); process.exit(0); };
  process.on('SIGTERM', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
  server.listen(Number(env('PEER_PORT', '0')), '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
  });
}
