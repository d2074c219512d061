// Cancellation reaches the upstream: a 2026-07-28 client closing its response stream, and a
// 2025-era client sending notifications/cancelled, both make Bastion send notifications/cancelled
// to the agent (the demo agent logs it, and Bastion logs the agent's stderr).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBastion, demoAgent, post, stateless, statelessHeaders, JSON_AND_SSE } from './harness.mjs';

let bastion;
before(async () => {
  bastion = await startBastion({ upstreams: { demo: demoAgent({ env: { BASTION_DEMO_LOG: 'info' } }) } });
});
after(async () => { await bastion?.stop(); });

async function waitForLog(pattern, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(bastion.logs())) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

async function inFlight() {
  const doc = await (await fetch(`${bastion.admin}/healthz`)).json();
  return doc.checks['upstream:demo'][0].inFlight;
}

test('2026-07-28: closing the SSE response stream cancels the upstream call', async () => {
  const controller = new AbortController();
  const body = stateless('tools/call', { name: 'slow', arguments: { ms: 20000 }, _meta: { progressToken: 'p1' } }, 'cancel-me');
  const res = await fetch(`${bastion.base}/mcp/demo`, {
    method: 'POST', signal: controller.signal, body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: JSON_AND_SSE, ...statelessHeaders('tools/call', 'slow') },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  assert.equal(res.headers.get('x-accel-buffering'), 'no');
  const reader = res.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /notifications\/progress/);
  controller.abort();
  assert.ok(await waitForLog(/cancelled by the client/), `upstream was not told:\n${bastion.logs()}`);
  assert.equal(await inFlight(), 0);
});

test('2025 era: notifications/cancelled is relayed with the upstream request id', async () => {
  const init = await post(`${bastion.base}/mcp/demo`, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  const h = { 'Mcp-Session-Id': init.headers.get('mcp-session-id'), 'MCP-Protocol-Version': '2025-11-25' };
  const before = (bastion.logs().match(/cancelled by the client/g) ?? []).length;
  const call = post(`${bastion.base}/mcp/demo`, { jsonrpc: '2.0', id: 'long', method: 'tools/call',
    params: { name: 'slow', arguments: { ms: 20000 } } }, h);
  for (let i = 0; i < 250 && (await inFlight()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const ack = await post(`${bastion.base}/mcp/demo`, { jsonrpc: '2.0', method: 'notifications/cancelled',
    params: { requestId: 'long', reason: 'user' } }, h);
  assert.equal(ack.status, 202);
  await call;  // the stream ends without a response, as the spec says for cancelled requests
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (bastion.logs().match(/cancelled by the client/g) ?? []).length <= before) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok((bastion.logs().match(/cancelled by the client/g) ?? []).length > before);
  assert.equal(await inFlight(), 0);
});

// Raw HTTP/1.1 on one plain connection, to control exactly when bytes and the FIN are sent.
async function rawConnection() {
  const net = await import('node:net');
  const { hostname: host, port } = new URL(bastion.base);
  const socket = net.connect(Number(port), host);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.setEncoding('utf8');
  const conn = { socket, raw: '' };
  socket.on('data', (d) => { conn.raw += d; });
  conn.request = (id, name, args) => {
    const body = JSON.stringify(stateless('tools/call', { name, arguments: args }, id));
    const h = statelessHeaders('tools/call', name);
    return `POST /mcp/demo HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: ${h['MCP-Protocol-Version']}\r\n` +
      `Mcp-Method: ${h['Mcp-Method']}\r\nMcp-Name: ${h['Mcp-Name']}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  return conn;
}

// Complete Content-Length replies at the start of `raw`.
function replies(raw) {
  const out = [];
  let rest = raw;
  for (let i = 0; i < 10; i++) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const m = /content-length:\s*(\d+)/i.exec(rest.slice(0, end));
    if (!m || rest.length < end + 4 + Number(m[1])) break;
    out.push({ status: Number(rest.slice(9, 12)), body: rest.slice(end + 4, end + 4 + Number(m[1])) });
    rest = rest.slice(end + 4 + Number(m[1]));
  }
  return out;
}

test('a request pipelined while the first is being handled is answered after it, not taken for a disconnect', async () => {
  const conn = await rawConnection();
  try {
    conn.socket.write(conn.request(1, 'slow', { ms: 300 }));
    for (let i = 0; i < 250 && (await inFlight()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await inFlight(), 1, 'the slow call is in flight');
    // The second request arrives while the first is handled: the socket becomes readable.
    conn.socket.write(conn.request(2, 'echo', { message: 'behind' }));
    for (let i = 0; i < 500 && replies(conn.raw).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const got = replies(conn.raw);
    assert.equal(got.length, 2, conn.raw);
    assert.deepEqual(got.map((r) => r.status), [200, 200]);
    const [first, second] = got.map((r) => JSON.parse(r.body));
    assert.equal(first.id, 1);
    assert.equal(first.result.structuredContent.sleptMs, 300, 'the first call ran to its end');
    assert.equal(second.id, 2);
    assert.equal(second.result.content[0].text, 'behind');
  } finally {
    conn.socket.destroy();
  }
});

test('a plain client that closes its connection during a call cancels the upstream call', async () => {
  const before = (bastion.logs().match(/cancelled by the client/g) ?? []).length;
  const conn = await rawConnection();
  try {
    conn.socket.write(conn.request('gone', 'slow', { ms: 20000 }));
    for (let i = 0; i < 250 && (await inFlight()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await inFlight(), 1, 'the slow call is in flight');
    conn.socket.end();  // FIN: nothing more will come, and the client is not waiting
    const told = () => (bastion.logs().match(/cancelled by the client/g) ?? []).length > before;
    for (let i = 0; i < 250 && (!told() || (await inFlight()) !== 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(told(), `upstream was not told:\n${bastion.logs()}`);
    assert.equal(await inFlight(), 0);
  } finally {
    conn.socket.destroy();
  }
});
