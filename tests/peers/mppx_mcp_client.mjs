// mppx 0.11's MCP client (`mppx/mcp-sdk/client`'s McpClient, on
// @modelcontextprotocol/sdk) paying a tool of an MCP server over streamable
// HTTP with a Tempo charge, for testing our `PaidServer` with a client we
// did not write. Runs with plain `node`; mppx, viem and the MCP SDK come
// from .tools/node_modules (scripts/test installs them).
//
// Configuration, all from the environment:
//   MCP_URL            the server's streamable HTTP endpoint      [required]
//   TOOL               the paid tool (default "joke")
//   TEMPO_RPC_URL      the chain's JSON-RPC URL (anvil --network tempo) [required]
//   TEMPO_CHAIN_ID     chain id (default 1337)
//   PAYER_KEY          the payer's private key                     [required]
//   MPPX_NODE_MODULES  where the packages are (default ../../.tools/node_modules)
//
// Prints one JSON line: `{"content":[...],"receipt":{...},"replay":{"code":N}}`
// where `replay` is what the server answered when the credential that paid
// was sent again. Exits 1 with `{"error":"..."}` when the client gives up.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(
  process.env.MPPX_NODE_MODULES || join(here, '..', '..', '.tools', 'node_modules'),
);
function fail(message) {
  process.stderr.write(`mppx_mcp_client: ${message}\n`);
  process.exit(2);
}
function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) fail(`${name} is required`);
  return fallback;
}
// A file of a package in nodeModules (a bare import would look beside this file).
async function load(path) {
  try {
    return await import(pathToFileURL(join(nodeModules, path)).href);
  } catch (error) {
    fail(`cannot load ${path} from ${nodeModules} (scripts/test installs it): ${error.message}`);
  }
}

const { McpClient, tempo } = await load('mppx/dist/mcp/client/index.js');
const { Client } = await load('@modelcontextprotocol/sdk/dist/esm/client/index.js');
const { StreamableHTTPClientTransport } = await load(
  '@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js',
);
const { createClient, http } = await load('viem/_esm/index.js');
const { privateKeyToAccount } = await load('viem/_esm/accounts/index.js');
const { tempo: tempoChain } = await load('viem/_esm/tempo/chains/index.js');

const rpcUrl = env('TEMPO_RPC_URL');
const chainId = Number(env('TEMPO_CHAIN_ID', '1337'));
const account = privateKeyToAccount(env('PAYER_KEY'));
const tool = env('TOOL', 'joke');

// viem's Tempo chain under our chain id; anvil 1.7.1 (hardfork T4) takes
// only expiring nonce 0, which viem 2.58 does not pick (see
// mppx_session_client.mjs).
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
const viemClient = createClient({ account, chain, transport: http(rpcUrl) });

// The credential the wrapper sends, seen on the way out.
const transport = new StreamableHTTPClientTransport(new URL(env('MCP_URL')));
let credential;
const send = transport.send.bind(transport);
transport.send = (message, options) => {
  const sent = message?.params?._meta?.['org.paymentauth/credential'];
  if (sent) credential = sent;
  return send(message, options);
};
const client = new Client({ name: 'mppx-mcp-peer', version: '1.0.0' });
await client.connect(transport);
const rawCallTool = client.callTool.bind(client);
McpClient.wrap(client, {
  methods: [tempo.charge({ account, getClient: () => viemClient })],
});

try {
  const result = await client.callTool({ name: tool, arguments: {} });
  let replay;
  try {
    await rawCallTool({ name: tool, arguments: {}, _meta: { 'org.paymentauth/credential': credential } });
    replay = { code: 0 };
  } catch (error) {
    replay = { code: error.code ?? null, message: String(error.message) };
  }
  console.log(JSON.stringify({ content: result.content, receipt: result.receipt ?? null, replay }));
  await client.close();
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.stack ?? error) }));
  process.exit(1);
}
