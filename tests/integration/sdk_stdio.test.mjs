// The official TypeScript SDK client -> Bastion -> stdio upstreams (server-everything, and the
// demo agent when built): handshake, lists, calls, progress, sampling relay, cancellation,
// session end, federation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startBastion, everythingStdio, demoAgent, post, stateless, statelessHeaders } from './harness.mjs';

let bastion;
before(async () => {
  bastion = await startBastion({
    upstreams: { everything: everythingStdio(), demo: demoAgent({ replicas: 2 }) },
  });
});
after(async () => { await bastion?.stop(); });

async function connect(path, capabilities = {}) {
  const client = new Client({ name: 'bastion-it', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(bastion.base + path));
  await client.connect(transport);
  return { client, transport };
}

test('pass-through: initialize returns the upstream identity and a session', async () => {
  const { client, transport } = await connect('/mcp/everything');
  assert.match(client.getServerVersion().name, /everything/i);
  assert.ok(transport.sessionId, 'Mcp-Session-Id minted');
  assert.match(transport.sessionId, /^[\x21-\x7e]{32}$/);
  await client.close();
});

test('pass-through: tools/list and tools/call reach server-everything', async () => {
  const { client } = await connect('/mcp/everything');
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'echo'), 'echo listed');
  const result = await client.callTool({ name: 'echo', arguments: { message: 'through bastion' } });
  assert.equal(result.content[0].text, 'Echo: through bastion');
  const prompts = await client.listPrompts();
  assert.ok(prompts.prompts.length > 0);
  const resources = await client.listResources();
  assert.ok(resources.resources.length > 0);
  const read = await client.readResource({ uri: resources.resources[0].uri });
  assert.ok(read.contents.length > 0);
  await client.close();
});

test('pass-through: progress notifications arrive before the result', async () => {
  const { client } = await connect('/mcp/everything');
  const progress = [];
  const result = await client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress) },
  );
  assert.match(result.content[0].text, /completed/i);
  assert.deepEqual(progress, [1, 2, 3, 4]);
  await client.close();
});

test('pass-through: sampling requests are relayed to the right client session', async () => {
  const { client: other } = await connect('/mcp/everything', { sampling: {} });
  other.setRequestHandler(CreateMessageRequestSchema, async () => {
    throw new Error('sampling reached the wrong session');
  });
  const { client } = await connect('/mcp/everything', { sampling: {} });
  let asked;
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    asked = req.params.messages[0].content.text;
    return { role: 'assistant', content: { type: 'text', text: 'sampled by the client' }, model: 'test-model', stopReason: 'endTurn' };
  });
  const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hello sampler' } });
  assert.match(asked, /hello sampler/);
  assert.match(JSON.stringify(result.content), /sampled by the client/);
  await client.close();
  await other.close();
});

test('pass-through: elicitation requests are relayed and answered', async () => {
  const { client } = await connect('/mcp/everything', { elicitation: {} });
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept', content: { name: 'Ada', check: true, firstLine: 'x', email: 'a@example.com', homepage: 'https://example.com', birthdate: '2000-01-01', integer: 1, number: 1, untitledSingleSelectEnum: 'Option 1', titledSingleSelectEnum: 'value1', legacyTitledEnum: 'opt1', untitledMultipleSelectEnum: ['Option 1'], titledMultipleSelectEnum: ['value1'] },
  }));
  const result = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
  assert.match(JSON.stringify(result.content), /accept/i);
  await client.close();
});

test('pass-through: a cancelled call stops and the session keeps working', async () => {
  const { client } = await connect('/mcp/everything');
  const controller = new AbortController();
  const call = client.callTool(
    { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
    undefined,
    { signal: controller.signal, onprogress: () => controller.abort('enough') },
  );
  await assert.rejects(call);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
  assert.equal(echo.content[0].text, 'Echo: still here');
  await client.close();
});

test('pass-through: ending a session makes its id unknown (404)', async () => {
  const { client, transport } = await connect('/mcp/everything');
  const id = transport.sessionId;
  await transport.terminateSession();
  const res = await post(`${bastion.base}/mcp/everything`, { jsonrpc: '2.0', id: 9, method: 'tools/list' },
    { 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-11-25' });
  assert.equal(res.status, 404);
  await client.close();
});

test('federation: tools of every upstream under prefixed names, calls routed', async () => {
  const { client } = await connect('/mcp');
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.ok(names.includes('everything__echo'), names.join(','));
  assert.ok(names.includes('demo__echo'), names.join(','));
  const viaEverything = await client.callTool({ name: 'everything__echo', arguments: { message: 'a' } });
  assert.equal(viaEverything.content[0].text, 'Echo: a');
  const viaDemo = await client.callTool({ name: 'demo__echo', arguments: { message: 'b' } });
  assert.equal(viaDemo.content[0].text, 'b');
  await assert.rejects(client.callTool({ name: 'nowhere__echo', arguments: {} }), /unknown tool/);
  await client.close();
});

test('demo agent: shared replicas answer concurrent calls with the right ids', async () => {
  const { client } = await connect('/mcp/demo');
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    client.callTool({ name: 'echo', arguments: { message: `m${i}` } })));
  replies.forEach((r, i) => assert.equal(r.content[0].text, `m${i}`));
  await client.close();
});

// 2026-07-28 multi-round calls: each replica seals requestState under its own key, so a later
// round must reach the replica that issued its state. Round-robin alone sends it to the other one.
test('demo agent: multi-round (MRTR) calls complete across shared replicas', async () => {
  const tool = 'test_input_required_result_elicitation';
  const caps = { elicitation: {} };
  const url = `${bastion.base}/mcp/demo`;
  for (let i = 0; i < 8; i++) {
    const first = await post(url, stateless('tools/call', { name: tool, arguments: {} }, 2 * i, caps),
      statelessHeaders('tools/call', tool));
    assert.equal(first.json.result?.resultType, 'input_required', JSON.stringify(first.json));
    const requestState = first.json.result.requestState;
    assert.ok(requestState);
    const second = await post(url, stateless('tools/call', {
      name: tool, arguments: {}, requestState,
      inputResponses: { user_name: { action: 'accept', content: { name: `Ada ${i}` } } },
    }, 2 * i + 1, caps), statelessHeaders('tools/call', tool));
    assert.equal(second.json.error, undefined, `round 2 of flow ${i}: ${JSON.stringify(second.json.error)}`);
    assert.equal(second.json.result.content[0].text, `Hello, Ada ${i}!`);
  }
});

test('admin health reports every upstream', async () => {
  const res = await fetch(`${bastion.admin}/healthz`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.status, 'pass');
  assert.ok(doc.checks['upstream:everything']);
  assert.ok(doc.checks['upstream:demo']);
  const pub = await (await fetch(`${bastion.base}/healthz`)).json();
  assert.deepEqual(pub, { status: 'pass' });
});
