// Transport limits: slow or silent clients are timed out (408), oversized headers get 431, the
// connection cap answers 503, the session cap answers 503 — and the gateway keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBastion, demoAgent, post } from './harness.mjs';

let bastion, host, port;
before(async () => {
  bastion = await startBastion({
    limits: { header_timeout: '300ms', idle_timeout: '1s', max_header_bytes: '4KiB', max_connections: 20 },
    upstreams: { demo: demoAgent() },
  });
  [host, port] = new URL(bastion.base).host.split(':');
});
after(async () => { await bastion?.stop(); });

// Writes `chunks` on a raw connection and resolves with everything the server sent until close.
function raw(chunks, { gapMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host);
    let data = '';
    socket.on('data', (d) => { data += d; });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(10000, () => { socket.destroy(); reject(new Error('server never closed')); });
    (async () => {
      for (const c of chunks) {
        if (socket.destroyed) return;
        socket.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

test('a client that stalls in its headers gets 408 and is disconnected', async () => {
  const started = Date.now();
  const reply = await raw(['POST /mcp HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n'], { gapMs: 2000 });
  assert.match(reply, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - started < 3000, 'cut off by header_timeout, not by the client');
});

test('an idle keep-alive connection is closed after idle_timeout', async () => {
  const started = Date.now();
  const reply = await raw([]);
  assert.equal(reply, '');
  assert.ok(Date.now() - started >= 900);
});

test('oversized headers get 431', async () => {
  const reply = await raw([`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`]);
  assert.match(reply, /^HTTP\/1\.1 431/);
});

test('smuggling attempts: conflicting Content-Length and Transfer-Encoding are refused', async () => {
  const reply = await raw(['POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde']);
  assert.match(reply, /^HTTP\/1\.1 400/);
});

test('beyond max_connections new connections get 503 and the rest keep working', async () => {
  // Each connection gets one reply first: proof the server has accepted and counted it (a fixed
  // wait flaked on a loaded machine). They then stay open, idle, well within idle_timeout (1 s).
  const sockets = await Promise.all(Array.from({ length: 20 }, () => new Promise((resolve, reject) => {
    const s = net.connect(Number(port), host, () => s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    s.once('data', (d) => (String(d).startsWith('HTTP/1.1 200') ? resolve(s) : reject(new Error(`got ${d}`))));
    s.on('error', reject);
  })));
  const reply = await raw(['GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n']);
  assert.match(reply, /^HTTP\/1\.1 503/);
  sockets.forEach((s) => s.destroy());
  let ok;
  for (let i = 0; i < 100 && !ok; i++) {
    try { ok = (await fetch(`${bastion.base}/healthz`)).status === 200; } catch { /* still closing */ }
    if (!ok) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(ok);
});

test('beyond max_sessions initialize gets 503 with Retry-After', async () => {
  const small = await startBastion({ limits: { max_sessions: 2 }, upstreams: { demo: demoAgent() } });
  try {
    const init = (i) => post(`${small.base}/mcp/demo`, { jsonrpc: '2.0', id: i, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal((await init(1)).status, 200);
    assert.equal((await init(2)).status, 200);
    const third = await init(3);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('retry-after'), '5');
    assert.ok(small.alive());
  } finally {
    await small.stop();
  }
});
