// An MCP server built with @modelcontextprotocol/sdk and mppx 0.11's MCP
// transport (`mppx/mcp-sdk/server`): one tool, `joke`, costs a Tempo charge
// of 0.01 PathUSD. For testing our MCP client against a server we did not
// write. Runs with plain `node`; the packages come from .tools/node_modules
// (scripts/test installs them).
//
// Configuration, all from the environment:
//   TEMPO_RPC_URL      the chain's JSON-RPC URL (anvil --network tempo)   [required]
//   TEMPO_CHAIN_ID     chain id (default 1337)
//   TEMPO_RECIPIENT    who gets paid                                      [required]
//   MPP_SECRET_KEY     HMAC key for challenge ids, at least 32 bytes      [required]
//   MPP_REALM          realm (default 127.0.0.1)
//   MPPX_NODE_MODULES  where the packages are (default ../../.tools/node_modules)
//
// Serves streamable HTTP statelessly at /mcp. Prints
// `listening http://127.0.0.1:PORT` once it listens; exits when stdin closes.
import * as http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(
  process.env.MPPX_NODE_MODULES || join(here, '..', '..', '.tools', 'node_modules'),
);
function fail(message) {
  process.stderr.write(`mppx_mcp_server: ${message}\n`);
  process.exit(2);
}
function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) fail(`${name} is required`);
  return fallback;
}
async function load(path) {
  try {
    return await import(pathToFileURL(join(nodeModules, path)).href);
  } catch (error) {
    fail(`cannot load ${path} from ${nodeModules} (scripts/test installs it): ${error.message}`);
  }
}

const { Mppx, Store, tempo } = await load('mppx/dist/server/index.js');
const { Transport } = await load('mppx/dist/mcp/server/index.js');
const { McpServer } = await load('@modelcontextprotocol/sdk/dist/esm/server/mcp.js');
const { StreamableHTTPServerTransport } = await load(
  '@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js',
);
const { createClient, http: httpTransport } = await load('viem/_esm/index.js');
const { tempo: tempoChain } = await load('viem/_esm/tempo/chains/index.js');

const rpcUrl = env('TEMPO_RPC_URL');
const chainId = Number(env('TEMPO_CHAIN_ID', '1337'));
const chain = { ...tempoChain, id: chainId, rpcUrls: { default: { http: [rpcUrl] } } };
const client = createClient({ chain, transport: httpTransport(rpcUrl) });

const payment = Mppx.create({
  methods: [
    tempo.charge({
      currency: '0x20c0000000000000000000000000000000000000',
      decimals: 6,
      recipient: env('TEMPO_RECIPIENT'),
      getClient: () => client,
      store: Store.memory(),
    }),
  ],
  realm: env('MPP_REALM', '127.0.0.1'),
  secretKey: env('MPP_SECRET_KEY'),
  transport: Transport.mcpSdk(),
});
const charge = payment.charge({ amount: '0.01', chainId });

function mcpServer() {
  const server = new McpServer({ name: 'mppx-mcp-peer', version: '1.0.0' });
  server.registerTool('joke', { description: 'A joke, 0.01 PathUSD' }, async (extra) => {
    const result = await charge(extra);
    if (result.status === 402) throw result.challenge;
    return result.withReceipt({ content: [{ type: 'text', text: 'a paid joke' }] });
  });
  return server;
}

const httpServer = http.createServer(async (req, res) => {
  if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (error) {
    process.stderr.write(`handler error: ${error?.stack ?? error}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
httpServer.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${httpServer.address().port}\n`);
});
