// The official SDK client -> Bastion -> server-everything over HTTP: Streamable HTTP and the
// legacy HTTP+SSE transport, per-client sessions with sampling relayed back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startBastion, startEverythingHttp, post, stateless, statelessHeaders } from './harness.mjs';

let bastion, streamable, legacy;
before(async () => {
  streamable = await startEverythingHttp('streamableHttp');
  legacy = await startEverythingHttp('sse');
  bastion = await startBastion({
    upstreams: {
      remote: { url: streamable.url, sessions: 'per-client' },
      old: { url: legacy.url, sessions: 'per-client' },
    },
  });
});
after(async () => {
  await bastion?.stop();
  await streamable?.stop();
  await legacy?.stop();
});

async function connect(path, capabilities = {}) {
  const client = new Client({ name: 'bastion-it', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(bastion.base + path)));
  return client;
}

for (const route of ['remote', 'old']) {
  test(`${route}: lists and calls through an HTTP upstream`, async () => {
    const client = await connect(`/mcp/${route}`);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    const r = await client.callTool({ name: 'echo', arguments: { message: `via ${route}` } });
    assert.equal(r.content[0].text, `Echo: via ${route}`);
    await client.close();
  });

  test(`${route}: progress and sampling flow back to the client`, async () => {
    const client = await connect(`/mcp/${route}`, { sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant', content: { type: 'text', text: 'sampled over http' }, model: 'm', stopReason: 'endTurn',
    }));
    const progress = [];
    const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
      undefined, { onprogress: (p) => progress.push(p.progress) });
    assert.match(long.content[0].text, /completed/i);
    assert.deepEqual(progress, [1, 2, 3]);
    const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'p' } });
    assert.match(JSON.stringify(sampled.content), /sampled over http/);
    await client.close();
  });
}

test('federation across HTTP and legacy upstreams', async () => {
  const client = await connect('/mcp');
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.ok(names.includes('remote__echo') && names.includes('old__echo'), names.join(','));
  const r = await client.callTool({ name: 'old__echo', arguments: { message: 'x' } });
  assert.equal(r.content[0].text, 'Echo: x');
  await client.close();
});

test('a dead HTTP upstream gives a clear JSON-RPC error, not a hang', async () => {
  const dead = await startBastion({ upstreams: { gone: { url: 'http://127.0.0.1:9/mcp', timeout: '3s', start_timeout: '2s' } } });
  try {
    const res = await post(`${dead.base}/mcp/gone`, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(res.status, 200);
    assert.equal(res.json.error.code, -32003);
    assert.match(res.json.error.message, /unavailable/);
    const s = await post(`${dead.base}/mcp/gone`, stateless('tools/list', {}, 2), statelessHeaders('tools/list'));
    assert.equal(s.json.error.code, -32003);
    assert.ok(dead.alive());
  } finally {
    await dead.stop();
  }
});
