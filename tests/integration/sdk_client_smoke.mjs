// A few real MCP calls through the official TypeScript SDK client against a running Bastion
// (scripts/integration.sh): initialize (2025-11-25 session), tools/list, tools/call echo × CALLS,
// then the session is ended with DELETE. Prints one JSON line {"calls": N} on success and exits
// non-zero, saying why, on anything unexpected.
//   node sdk_client_smoke.mjs URL [CALLS]
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, callsArg = '3'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node sdk_client_smoke.mjs URL [CALLS]');
  process.exit(2);
}
const calls = Number(callsArg);

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const client = new Client({ name: 'bastion-integration', version: '1.0.0' }, { capabilities: {} });
const transport = new StreamableHTTPClientTransport(new URL(url));
try {
  await client.connect(transport, { timeout: 10_000 });
  check(transport.sessionId, 'initialize: no Mcp-Session-Id');
  check(client.getServerVersion()?.name, 'initialize: no serverInfo');
  const { tools } = await client.listTools(undefined, { timeout: 10_000 });
  const echo = tools.find((t) => t.name === 'echo');
  check(echo, `tools/list has no echo tool: ${tools.map((t) => t.name).join(', ')}`);
  for (let i = 0; i < calls; i++) {
    const message = `integration ${i} ${Date.now()}`;
    const result = await client.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout: 10_000 });
    check(!result.isError, `tools/call echo: isError result ${JSON.stringify(result)}`);
    check(result.content?.[0]?.text === message, `tools/call echo: got ${JSON.stringify(result.content)}`);
  }
  await transport.terminateSession();
  console.log(JSON.stringify({ server: client.getServerVersion(), tools: tools.length, calls }));
} catch (e) {
  console.error(`sdk client: ${e.message}`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => {});
}
