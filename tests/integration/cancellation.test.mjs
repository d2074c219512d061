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
