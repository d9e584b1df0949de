// A Tempo charge server built with mppx 0.11 (the TypeScript SDK), for
// testing our client against a server we did not write. Started by
// tests/support/peer_server.rs; runs with plain `node`, mppx and viem come
// from .tools/node_modules (installed by scripts/test).
//
// Configuration, all from the environment:
//   PEER_PORT            port on 127.0.0.1 (default 0: the OS picks one)
//   TEMPO_RPC_URL        the chain's JSON-RPC URL (anvil --network tempo)   [required]
//   TEMPO_CHAIN_ID       chain id (default 1337)
//   TEMPO_RECIPIENT      who gets paid                                      [required]
//   TEMPO_CURRENCY       TIP-20 token (default PathUSD 0x20c0...0000)
//   MPP_SECRET_KEY       HMAC key for challenge ids, at least 32 bytes      [required]
//   MPP_REALM            realm (default 127.0.0.1)
//   TEMPO_FEE_PAYER_KEY  private key that sponsors fees on /sponsored (the route exists only when set)
//   TEMPO_SPLIT_RECIPIENT who gets the split on /split (the route exists only when set)
//   MPPX_NODE_MODULES    where mppx and viem are (default ../../.tools/node_modules from this file)
//
// Routes (GET, any other method works the same):
//   /paid       0.01 (10000 base units), push or pull
//   /pull-only  0.01, methodDetails.supportedModes = ["pull"]
//   /push-only  0.01, methodDetails.supportedModes = ["push"]
//   /sponsored  0.01, methodDetails.feePayer = true (the fee payer co-signs a 0x78 envelope)
//   /split      0.01, of which 0.002 (2000) goes to TEMPO_SPLIT_RECIPIENT
//   /free       0 (zero amount: proof credentials only)
// Paid answers are 200 `{"paid":true,"route":...}` with Payment-Receipt;
// unknown paths 404.
//
// Prints `listening http://127.0.0.1:PORT` on stdout once it listens; exits
// when stdin closes, on SIGTERM or SIGINT. Payment failures are logged on
// stderr (`payment failed: ...`).

import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(
  process.env.MPPX_NODE_MODULES || join(here, '..', '..', '.tools', 'node_modules'),
);

// ESM entry point of `pkg` or `pkg/sub` in nodeModules, following the
// package's `exports` map (a bare import would resolve from this file's
// directory, where there is no node_modules).
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
  process.stderr.write(`mppx_server: ${message}\n`);
  process.exit(2);
}

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) fail(`${name} is required`);
  return fallback;
}

const { Mppx, Store, tempo } = await load('mppx/server');
const { createClient, http: httpTransport } = await load('viem');
const { privateKeyToAccount } = await load('viem/accounts');
const { tempo: tempoChain } = await load('viem/tempo/chains');

const port = Number(env('PEER_PORT', '0'));
const rpcUrl = env('TEMPO_RPC_URL');
const chainId = Number(env('TEMPO_CHAIN_ID', '1337'));
const recipient = env('TEMPO_RECIPIENT');
const currency = env('TEMPO_CURRENCY', '0x20c0000000000000000000000000000000000000');
const secretKey = env('MPP_SECRET_KEY');
const realm = env('MPP_REALM', '127.0.0.1');
const feePayerKey = process.env.TEMPO_FEE_PAYER_KEY || undefined;
const splitRecipient = process.env.TEMPO_SPLIT_RECIPIENT || undefined;

// viem's Tempo chain (its 0x76 serializers and formatters) under our chain id.
const chain = { ...tempoChain, id: chainId, rpcUrls: { default: { http: [rpcUrl] } } };
const client = createClient({ chain, transport: httpTransport(rpcUrl) });

const mppx = Mppx.create({
  methods: [
    tempo.charge({
      currency,
      decimals: 6,
      recipient,
      getClient: () => client,
      // Explicit, so proofs are single-use too (without a store mppx lets a
      // proof be reused until its challenge expires).
      store: Store.memory(),
    }),
  ],
  realm,
  secretKey,
});
mppx.onPaymentFailed((context) => {
  process.stderr.write(`payment failed: ${context.error?.message ?? context.error}\n`);
});

const price = '0.01';
const routes = {
  '/paid': { amount: price },
  '/pull-only': { amount: price, supportedModes: ['pull'] },
  '/push-only': { amount: price, supportedModes: ['push'] },
  '/free': { amount: '0' },
};
if (feePayerKey) routes['/sponsored'] = { amount: price, feePayer: privateKeyToAccount(feePayerKey) };
if (splitRecipient)
  routes['/split'] = { amount: price, splits: [{ amount: '0.002', recipient: splitRecipient }] };

// One configured handler per route, built once.
const handlers = Object.fromEntries(
  Object.entries(routes).map(([path, options]) => [
    path,
    Mppx.toNodeListener(mppx.charge({ chainId, ...options })),
  ]),
);

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const handler = handlers[path];
  if (!handler) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  try {
    const result = await handler(req, res);
    if (result.status === 402) return; // the challenge (or error) is written
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ paid: true, route: path }));
  } catch (error) {
    process.stderr.write(`handler error on ${path}: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`internal error: ${error?.message ?? error}\n`);
  }
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
});
