// Raw HTTP against Bastion: bad input gets the right status and JSON-RPC error and the process
// keeps serving; 2025-era session rules; 2026-07-28 stateless validation order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBastion, everythingStdio, post, sseMessages, stateless, statelessHeaders, JSON_AND_SSE } from './harness.mjs';

let bastion;
let mcp;
before(async () => {
  bastion = await startBastion({
    limits: { max_body_bytes: '64KiB', max_json_depth: 32 },
    upstreams: { everything: everythingStdio({ sessions: 'shared' }) },
  });
  mcp = `${bastion.base}/mcp/everything`;
});
after(async () => { await bastion?.stop(); });

async function session() {
  const res = await post(mcp, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  assert.equal(res.status, 200);
  const id = res.headers.get('mcp-session-id');
  assert.ok(id);
  const h = { 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-11-25' };
  assert.equal((await post(mcp, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status, 202);
  return h;
}

async function stillServing() {
  const res = await fetch(`${bastion.base}/healthz`);
  assert.equal(res.status, 200);
  assert.ok(bastion.alive());
}

test('malformed and ill-shaped JSON-RPC get 400 with the right code', async () => {
  const h = await session();
  const cases = [
    ['{"jsonrpc":"2.0",', -32700],
    ['{"jsonrpc":"2.0","id":1,"method":"x","params":[1,2]}', -32600],
    ['{"jsonrpc":"1.0","id":1,"method":"tools/list"}', -32600],
    ['{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', -32600],
    ['{"jsonrpc":"2.0","id":null,"method":"tools/list"}', -32600],
    ['"just a string"', -32600],
    [Buffer.from([0x7b, 0x22, 0x6a, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), -32700], // invalid UTF-8
    ['['.repeat(40) + ']'.repeat(40), -32700],                                  // deeper than 32
  ];
  for (const [body, code] of cases) {
    const res = await post(mcp, body, h);
    assert.equal(res.status, 400, String(body));
    assert.equal(res.json.error.code, code, String(body));
    assert.ok(res.json.error.message.length > 0);
  }
  await stillServing();
});

test('unknown methods are answered by the upstream with -32601', async () => {
  const h = await session();
  const res = await post(mcp, { jsonrpc: '2.0', id: 5, method: 'no/such/method' }, h);
  assert.equal(res.status, 200);
  assert.equal(res.json.id, 5);
  assert.equal(res.json.error.code, -32601);
});

test('session rules: missing 400, unknown or forged 404, bad version 400, batches only for 2025-03-26', async () => {
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
  assert.equal((await post(mcp, list)).status, 400);
  assert.equal((await post(mcp, list, { 'Mcp-Session-Id': 'A'.repeat(32) })).status, 404);
  assert.equal((await post(mcp, list, { 'Mcp-Session-Id': '../../etc/passwd' })).status, 404);
  const h = await session();
  assert.equal((await post(mcp, list, { ...h, 'MCP-Protocol-Version': '1999-01-01' })).status, 400);
  const batch = await post(mcp, [list, { ...list, id: 3 }], h);
  assert.equal(batch.status, 400);
  // A session minted for one route is not valid on another.
  assert.equal((await post(`${bastion.base}/mcp`, list, h)).status, 404);
  await stillServing();
});

test('2025-03-26 sessions may batch', async () => {
  const init = await post(mcp, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  assert.equal(init.json.result.protocolVersion, '2025-03-26');
  const h = { 'Mcp-Session-Id': init.headers.get('mcp-session-id') };
  const res = await post(mcp, [
    { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 'b', method: 'ping' },
  ], h);
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(res.json));
  assert.deepEqual(res.json.map((r) => r.id), ['a', 'b']);
});

test('Accept and Content-Type are enforced', async () => {
  const h = await session();
  const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  let res = await fetch(mcp, { method: 'POST', headers: { ...h, 'Content-Type': 'application/json', Accept: 'application/json' }, body: list });
  assert.equal(res.status, 406);
  res = await fetch(mcp, { method: 'POST', headers: { ...h, 'Content-Type': 'text/plain', Accept: JSON_AND_SSE }, body: list });
  assert.equal(res.status, 415);
});

test('oversized bodies get 413 and the connection pool survives', async () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(100 * 1024) } } });
  const res = await post(mcp, big, await session());
  assert.equal(res.status, 413);
  await stillServing();
});

test('Host/Origin validation rejects DNS rebinding with 403', async () => {
  const res = await fetch(mcp, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: JSON_AND_SSE, Origin: 'http://evil.example.com' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
  assert.equal(res.status, 403);
  const ok = await fetch(`${bastion.base}/healthz`, { headers: { Origin: 'http://localhost:1234' } });
  assert.equal(ok.status, 200);
});

test('GET opens the standalone stream; unknown Last-Event-ID is 404; 2026 GET is 405', async () => {
  const h = await session();
  const controller = new AbortController();
  const res = await fetch(mcp, { headers: { ...h, Accept: 'text/event-stream' }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  controller.abort();
  const bad = await fetch(mcp, { headers: { ...h, Accept: 'text/event-stream', 'Last-Event-ID': '999_1' } });
  assert.equal(bad.status, 404);
  const modern = await fetch(mcp, { headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': '2026-07-28' } });
  assert.equal(modern.status, 405);
});

test('SSE replies carry a priming event, ids and resume with Last-Event-ID', async () => {
  const h = await session();
  const res = await post(mcp, { jsonrpc: '2.0', id: 7, method: 'tools/call',
    params: { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 2 }, _meta: { progressToken: 'p' } } }, h);
  assert.equal(res.status, 200);
  const lines = res.text.split('\n');
  assert.match(lines[0], /^id: \d+_0$/);
  assert.match(lines[1], /^retry: \d+$/);
  const messages = sseMessages(res.text);
  assert.equal(messages.at(-1).id, 7);
  assert.equal(messages.filter((m) => m.method === 'notifications/progress').length, 2);
  // Replay everything after the first progress event of that stream.
  const ids = lines.filter((l) => l.startsWith('id: ')).map((l) => l.slice(4));
  const replay = await fetch(mcp, { headers: { ...h, Accept: 'text/event-stream', 'Last-Event-ID': ids[1] } });
  const replayed = sseMessages(await replay.text());
  assert.equal(replayed.length, messages.length - 1);
  assert.equal(replayed.at(-1).id, 7);
});

test('2026-07-28: validation order and error codes', async () => {
  const url = mcp;
  let res = await post(url, { jsonrpc: '2.0', id: 101, method: 'server/discover', params: {} }, { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, -32602);
  assert.equal(res.json.id, 101);
  res = await post(url, stateless('tools/list', {}, 301), { ...statelessHeaders('tools/list'), 'MCP-Protocol-Version': 'v999' });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, -32020);
  const v999 = stateless('server/discover', {}, 302);
  v999.params._meta['io.modelcontextprotocol/protocolVersion'] = 'v999';
  res = await post(url, v999, { ...statelessHeaders('server/discover'), 'MCP-Protocol-Version': 'v999' });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, -32022);
  assert.equal(res.json.error.data.requested, 'v999');
  assert.ok(res.json.error.data.supported.includes('2026-07-28'));
  res = await post(url, stateless('tools/list', {}, 303), statelessHeaders('prompts/list'));
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, -32020);
  res = await post(url, stateless('tools/call', { name: 'echo', arguments: { message: 'x' } }, 304), statelessHeaders('tools/call', 'other'));
  assert.equal(res.json.error.code, -32020);
  res = await post(url, stateless('ping', {}, 305), statelessHeaders('ping'));
  assert.equal(res.status, 404);
  assert.equal(res.json.error.code, -32601);
  await stillServing();
});

test('2026-07-28: discover and calls are stateless and tagged', async () => {
  let res = await post(mcp, stateless('server/discover', {}, 1), statelessHeaders('server/discover'));
  assert.equal(res.status, 200);
  assert.ok(res.json.result.supportedVersions.includes('2026-07-28'));
  assert.ok(res.json.result.capabilities.tools);
  assert.equal(res.json.result.resultType, 'complete');
  assert.equal(typeof res.json.result.ttlMs, 'number');
  assert.equal(res.headers.get('mcp-session-id'), null);
  res = await post(mcp, stateless('tools/call', { name: 'echo', arguments: { message: 'modern' } }, 2), statelessHeaders('tools/call', '=?base64?ZWNobw==?='));
  assert.equal(res.status, 200);
  assert.equal(res.json.result.content[0].text, 'Echo: modern');
  assert.equal(res.json.result.resultType, 'complete');
  assert.equal(res.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'bastion');
  res = await post(mcp, stateless('tools/list', {}, 3), statelessHeaders('tools/list'));
  assert.ok(res.json.result.tools.length > 0);
  assert.equal(res.json.result.cacheScope, 'private');
});
