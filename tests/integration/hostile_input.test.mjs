// Hostile input against the public listener, as one table: HTTP framing and smuggling abuse over
// raw TCP (nothing normalised by a client library), path traversal on the static route (ACME
// HTTP-01 files on the redirect listener), JSON-RPC abuse and MCP protocol abuse. Each case
// states the status (and JSON-RPC code) it must get and the counters that must move by exactly
// how much. A legitimate client keeps calling a tool the whole time and must never fail; at the
// end the process is alive and healthy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASTION, startBastion, demoAgent, post, freePort, stateless, statelessHeaders } from './harness.mjs';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-WEBROOT';
const CHALLENGE = 'challenge-file-content';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hostile', version: '1' } } };

let work, bastion, port, redirectPort, mcp, alice, bob, aliceSession;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'bastion-hostile-'));
  chmodSync(work, 0o755);  // bastion runs as nobody
  const webroot = join(work, 'webroot');
  mkdirSync(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
  writeFileSync(join(webroot, '.well-known', 'acme-challenge', 'tok123'), CHALLENGE);
  writeFileSync(join(work, 'secret.txt'), SECRET);
  writeFileSync(join(webroot, 'secret.txt'), SECRET);
  for (const p of ['webroot', 'webroot/.well-known', 'webroot/.well-known/acme-challenge']) chmodSync(join(work, p), 0o755);
  const tokens = join(work, 'tokens');
  const create = (name) => execFileSync(BASTION, ['token', 'create', name, '--tokens-file', tokens], { encoding: 'utf8' }).trim();
  alice = create('alice');
  bob = create('bob');
  chmodSync(tokens, 0o644);
  redirectPort = await freePort();
  bastion = await startBastion({
    listen: {
      public: { address: '127.0.0.1:0' }, admin: { address: '127.0.0.1:0' },
      redirect: { address: `127.0.0.1:${redirectPort}`, webroot },
    },
    limits: { max_body_bytes: '64KiB', max_header_bytes: '8KiB', max_json_depth: 32, header_timeout: '2s' },
    auth: { tokens_file: tokens, resource: 'https://mcp.example.test/mcp' },
    upstreams: { demo: demoAgent() },
  });
  port = Number(new URL(bastion.base).port);
  mcp = `${bastion.base}/mcp/demo`;
  aliceSession = await openSession(alice);
});

after(async () => {
  await bastion?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const bearer = (t) => ({ Authorization: `Bearer ${t}` });

async function openSession(token) {
  const res = await post(mcp, INIT, bearer(token));
  assert.equal(res.status, 200, res.text);
  const sid = res.headers.get('mcp-session-id');
  const h = { ...bearer(token), 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
  assert.equal((await post(mcp, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status, 202);
  return h;
}

// --- metrics ---------------------------------------------------------------------------------

async function scrape() {
  const text = await (await fetch(`${bastion.admin}/metrics`)).text();
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}
const http = (code, listener = 'public') => `bastion_http_requests_total{listener="${listener}",code="${code}"}`;
const reason = (r) => `bastion_requests_rejected_total{reason="${r}"}`;
const mcpOk = (method) => `bastion_mcp_requests_total{method="${method}",status="ok"}`;

// Waits until every expected delta is reached (handlers count after the reply is written), then
// requires each to be exact.
async function expectDeltas(before, deltas, label) {
  let now;
  for (let i = 0; i < 150; i++) {
    now = await scrape();
    if (Object.entries(deltas).every(([k, d]) => (now.get(k) ?? 0) - (before.get(k) ?? 0) >= d)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const moved = [...now].filter(([k, v]) => /rejected_total|http_requests_total/.test(k) && v !== (before.get(k) ?? 0))
    .map(([k, v]) => `${k} +${v - (before.get(k) ?? 0)}`);
  for (const [k, d] of Object.entries(deltas)) {
    assert.equal((now.get(k) ?? 0) - (before.get(k) ?? 0), d, `${label}: ${k} (moved: ${moved.join(', ')})`);
  }
}

// --- raw TCP ---------------------------------------------------------------------------------

// Writes `bytes` (optionally in pieces with pauses) and collects everything until the server
// closes; `responses` counts status lines at message starts.
function raw(bytes, { toPort = port, pauseMs = 0, parts } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(toPort, '127.0.0.1');
    let data = Buffer.alloc(0);
    let error;
    socket.on('data', (d) => { data = Buffer.concat([data, d]); });
    socket.on('error', (e) => { error = e.code; });
    socket.on('close', () => {
      const text = data.toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ text, statuses, status: statuses[0], error });
    });
    socket.setTimeout(8000, () => { socket.destroy(); reject(new Error('server neither answered nor closed')); });
    (async () => {
      for (const p of parts ?? [bytes]) {
        if (socket.destroyed) return;
        socket.write(p);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  });
}

const HOST = 'Host: localhost\r\n';
const AUTH = () => `Authorization: Bearer ${alice}\r\n`;
const CLOSE = 'Connection: close\r\n';
// A request the process must never see as a request of its own (404 is counted if it ran).
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${HOST}\r\n`;
const get = (target, extra = '') => `GET ${target} HTTP/1.1\r\n${HOST}${AUTH()}${extra}${CLOSE}\r\n`;

// [name, bytes(), status, counter deltas, extra check]. Refusals by the HTTP server carry a
// reason; requests that pass framing and reach a handler are counted by status alone.
const refused = (status, why) => ({ [http(status)]: 1, [reason(why)]: 1 });
const handled = (status) => ({ [http(status)]: 1 });

const httpCases = [
  // Smuggling: Content-Length and Transfer-Encoding.
  ['duplicate Content-Length, same value', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
    400, refused(400, 'http_bad_content_length')],
  ['duplicate Content-Length, different values', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
    400, refused(400, 'http_bad_content_length')],
  ['Content-Length as a list "4, 4"', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 4, 4\r\n\r\nabcd`,
    400, refused(400, 'http_bad_content_length')],
  ['Content-Length then Transfer-Encoding', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_transfer_encoding')],
  ['Transfer-Encoding then Content-Length', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_content_length')],
  ['Transfer-Encoding "chunked, identity" + smuggled request', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked, identity\r\n\r\n${SMUGGLED}`,
    400, { ...refused(400, 'http_bad_transfer_encoding'), [http(404)]: 0 }, (r) => assert.equal(r.statuses.length, 1)],
  ['Transfer-Encoding "xchunked" + smuggled request', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: xchunked\r\n\r\n${SMUGGLED}`,
    400, { ...refused(400, 'http_bad_transfer_encoding'), [http(404)]: 0 }, (r) => assert.equal(r.statuses.length, 1)],
  ['Transfer-Encoding "identity"', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: identity\r\n\r\n${SMUGGLED}`,
    400, refused(400, 'http_bad_transfer_encoding')],
  ['Transfer-Encoding "gzip, chunked" (coding not implemented)', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    501, refused(501, 'http_unsupported_transfer_encoding')],
  ['Transfer-Encoding twice', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_transfer_encoding')],
  ['Transfer-Encoding in HTTP/1.0', () => `POST /mcp/demo HTTP/1.0\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_transfer_encoding')],
  ['Transfer-Encoding "Chunked " is chunked (case, OWS): parsed, then routed', () => `POST /nope HTTP/1.1\r\n${HOST}Transfer-Encoding: Chunked \r\n${CLOSE}\r\n3\r\nabc\r\n0\r\n\r\n`,
    404, handled(404)],
  ['chunk size not hex', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_chunk')],
  ['chunk size overflowing 64 bits', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_chunk')],
  ['chunk size beyond the body limit', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\nfffffff\r\nabc`,
    413, refused(413, 'http_body_too_large')],
  ['chunk extension with a control byte', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3;a\x01=b\r\nabc\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_chunk')],
  ['4 KB of chunk extensions are skipped, then routed', () => `POST /nope HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${CLOSE}\r\n3;${'a=b;'.repeat(1000)}x\r\nabc\r\n0\r\n\r\n`,
    404, handled(404)],
  ['a 2.5 MB chunk-size line (extensions) does not grow the buffer without bound', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3;${'a=b;'.repeat(625000)}x\r\nabc\r\n0\r\n\r\n`,
    400, refused(400, 'http_bad_chunk')],
  // Header injection and malformed fields.
  ['bare LF ending the request line', () => `GET /healthz HTTP/1.1\n${HOST}\r\n`,
    400, refused(400, 'http_bad_version')],
  ['bare LF inside the header (injected field)', () => `GET /healthz HTTP/1.1\r\nX-A: a\nTransfer-Encoding: chunked\r\n${HOST}\r\n`,
    400, refused(400, 'http_bad_header')],
  ['bare CR inside a value', () => `GET /healthz HTTP/1.1\r\nX-A: a\rX-B: b\r\n${HOST}\r\n`,
    400, refused(400, 'http_bad_header')],
  ['obs-fold continuation line', () => `GET /healthz HTTP/1.1\r\n${HOST}X-A: a\r\n  b\r\n\r\n`,
    400, refused(400, 'http_obs_fold')],
  ['obs-fold hiding Transfer-Encoding', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    400, { ...refused(400, 'http_obs_fold'), [http(404)]: 0 }, (r) => assert.equal(r.statuses.length, 1)],
  ['NUL in a header value', () => `GET /healthz HTTP/1.1\r\n${HOST}X-A: a\x00b\r\n\r\n`,
    400, refused(400, 'http_bad_header')],
  ['NUL in a header name', () => `GET /healthz HTTP/1.1\r\n${HOST}X-\x00A: b\r\n\r\n`,
    400, refused(400, 'http_bad_header')],
  ['space before the colon', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length : 4\r\n\r\nabcd`,
    400, refused(400, 'http_bad_header')],
  ['no Host in HTTP/1.1', () => `GET /healthz HTTP/1.1\r\n\r\n`,
    400, refused(400, 'http_bad_host')],
  ['two Host headers', () => `GET /healthz HTTP/1.1\r\n${HOST}Host: evil.example\r\n\r\n`,
    400, refused(400, 'http_bad_host')],
  // Absurd header counts and sizes (limit 8 KiB for the whole header).
  ['1000 tiny headers within the limit are parsed, then routed', () => `GET /nope HTTP/1.1\r\n${HOST}${'a:1\r\n'.repeat(1000)}${CLOSE}\r\n`,
    404, handled(404)],
  ['4000 tiny headers over the limit', () => `GET /nope HTTP/1.1\r\n${HOST}${'a:1\r\n'.repeat(4000)}\r\n`,
    431, refused(431, 'http_header_too_large')],
  // The limit holds for the header as a whole: Boost 1.81's parser checks it per parse step, so
  // fields it had already consumed did not count (10 KB passed an 8 KiB limit).
  ['2000 tiny headers (10 KB) just over the limit', () => `GET /nope HTTP/1.1\r\n${HOST}${'a:1\r\n'.repeat(2000)}${CLOSE}\r\n`,
    431, refused(431, 'http_header_too_large')],
  ['200000 tiny headers (1 MB)', () => `GET /nope HTTP/1.1\r\n${HOST}${'a:1\r\n'.repeat(200000)}\r\n`,
    431, refused(431, 'http_header_too_large')],
  ['one 9 KB header', () => `GET /nope HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(9000)}\r\n\r\n`,
    431, refused(431, 'http_header_too_large')],
  // Methods.
  ['control byte in the method', () => `G\x01T /healthz HTTP/1.1\r\n${HOST}\r\n`,
    400, refused(400, 'http_bad_method')],
  ['5000-character method', () => `${'A'.repeat(5000)} /healthz HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    405, handled(405)],
  ['unknown method on /healthz', () => `FOO /healthz HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    405, handled(405)],
  ['lowercase "post" on /mcp/demo', () => `post /mcp/demo HTTP/1.1\r\n${HOST}${AUTH()}Content-Type: application/json\r\nContent-Length: 2\r\n${CLOSE}\r\n{}`,
    405, handled(405), (r) => assert.match(r.text, /"code":-32000/)],
  // Targets and paths.
  ['absolute-form target', () => get('http://localhost/healthz'), 404, handled(404)],
  ['asterisk-form target', () => `OPTIONS * HTTP/1.1\r\n${HOST}${CLOSE}\r\n`, 404, handled(404)],
  ['/mcp/../admin', () => get('/mcp/../admin'), 404, handled(404)],
  ['/mcp/demo/../../healthz', () => get('/mcp/demo/../../healthz'), 404, handled(404)],
  ['/%2e%2e/', () => get('/%2e%2e/'), 404, handled(404)],
  ['//mcp', () => `POST //mcp HTTP/1.1\r\n${HOST}${AUTH()}Content-Length: 0\r\n${CLOSE}\r\n`, 404, handled(404)],
  ['/mcp%2fdemo', () => get('/mcp%2fdemo'), 404, handled(404)],
  ['encoded NUL /mcp/demo%00', () => get('/mcp/demo%00'), 404, handled(404)],
  ['raw NUL in the target', () => `GET /mcp/demo\x00 HTTP/1.1\r\n${HOST}\r\n`, 400, refused(400, 'http_bad_target')],
  ['7 KB path within the header limit', () => get(`/${'a'.repeat(7000)}`), 404, handled(404)],
  ['9 KB path', () => `GET /${'a'.repeat(9000)} HTTP/1.1\r\n${HOST}\r\n`, 431, refused(431, 'http_header_too_large')],
  // Versions.
  ['HTTP/0.9 request line (no version: the target runs into CR)', () => 'GET /healthz\r\n\r\n', 400, refused(400, 'http_bad_target')],
  ['HTTP/2.0 request line', () => `GET /healthz HTTP/2.0\r\n${HOST}\r\n`, 400, refused(400, 'http_bad_version')],
  ['HTTP/2 connection preface', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, refused(400, 'http_bad_version')],
  ['HTTP/1.2', () => `GET /healthz HTTP/1.2\r\n${HOST}\r\n`, 400, refused(400, 'http_bad_version')],
  // Content-Length values.
  ['non-numeric Content-Length', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: abc\r\n\r\n`, 400, refused(400, 'http_bad_content_length')],
  ['negative Content-Length', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: -1\r\n\r\n`, 400, refused(400, 'http_bad_content_length')],
  ['Content-Length "+4"', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: +4\r\n\r\nabcd`, 400, refused(400, 'http_bad_content_length')],
  ['Content-Length beyond 64 bits', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 99999999999999999999999\r\n\r\n`, 400, refused(400, 'http_bad_content_length')],
  ['Content-Length beyond the body limit', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 999999999\r\n\r\n`, 413, refused(413, 'http_body_too_large')],
  ['Expect: 100-continue with an oversized length is refused before the body', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n`,
    413, refused(413, 'http_body_too_large')],
  // Pipelining: a refused first request takes the connection down with it.
  ['pipelined request behind a refused one is never executed', () => `POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde${SMUGGLED}`,
    400, { ...refused(400, 'http_bad_content_length'), [http(404)]: 0 }, (r) => assert.equal(r.statuses.length, 1)],
  ['control: two good pipelined requests get two replies', () => `GET /nope HTTP/1.1\r\n${HOST}\r\nGET /nope HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    404, { [http(404)]: 2 }, (r) => assert.deepEqual(r.statuses, [404, 404])],
];

// The redirect listener serves ACME HTTP-01 files from its webroot: nothing else may come out.
const STATIC = '/.well-known/acme-challenge/';
const staticCases = [
  ['control: a real challenge file', STATIC + 'tok123', 200, (r) => assert.match(r.text, new RegExp(CHALLENGE))],
  ['../ out of the challenge directory', STATIC + '../../secret.txt', 404],
  ['../ further up', STATIC + '../../../secret.txt', 404],
  ['encoded ..%2f', STATIC + '..%2f..%2fsecret.txt', 404],
  ['encoded %2e%2e%2f', STATIC + '%2e%2e%2f%2e%2e%2fsecret.txt', 404],
  ['double-encoded %252e', STATIC + '%252e%252e%252fsecret.txt', 404],
  ['backslashes', STATIC + '..\\..\\secret.txt', 404],
  ['token followed by an encoded NUL', STATIC + 'tok123%00', 404],
  ['token with a path suffix', STATIC + 'tok123/../../secret.txt', 404],
  ['absolute path as the token', STATIC + '/etc/passwd', 404],
  ['empty token', STATIC, 404],
];

// --- the legitimate client ---------------------------------------------------------------------

function legitimateLoop() {
  const state = { ok: 0, failures: [], stop: false };
  state.done = (async () => {
    const h = await openSession(alice);
    for (let i = 1; !state.stop && i < 1e6; i++) {
      try {
        const res = await post(mcp, { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `legit ${i}` } } }, h);
        if (res.status === 200 && res.json?.result?.content?.[0]?.text === `legit ${i}`) state.ok++;
        else state.failures.push(`${res.status} ${res.text.slice(0, 200)}`);
      } catch (e) {
        state.failures.push(String(e));
      }
    }
  })();
  return state;
}

// --- the matrix ------------------------------------------------------------------------------

test('hostile input matrix: specific refusals, each counted, while a legitimate client is served', async () => {
  const started = Date.now();
  const legit = legitimateLoop();
  const table = [];
  const row = (group, name, status, deltas) => table.push(`${group} | ${name} | ${status} | ${Object.entries(deltas).map(([k, d]) => `${k} +${d}`).join(', ')}`);
  try {
    for (const [name, bytes, status, deltas, check] of httpCases) {
      const before = await scrape();
      const r = await raw(bytes()).catch((e) => { throw new Error(`${name}: ${e.message}`); });
      assert.equal(r.status, status, `${name}: ${r.text.slice(0, 300)}`);
      check?.(r);
      await expectDeltas(before, deltas, name);
      row('http', name, status, deltas);
    }

    // A body that stalls: 408 within the (2 s) header timeout, counted, connection closed.
    {
      const before = await scrape();
      const t = Date.now();
      const r = await raw(null, { parts: [`POST /mcp/demo HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nabcde`, 'fgh'], pauseMs: 5000 });
      assert.equal(r.status, 408);
      assert.ok(Date.now() - t < 4500, 'cut off by the server, not by the client');
      await expectDeltas(before, refused(408, 'http_timeout'), 'slow body');
      row('http', 'slow body (stalls mid-body)', 408, refused(408, 'http_timeout'));
    }

    for (const [name, target, status, check] of staticCases) {
      const before = await scrape();
      const r = await raw(`GET ${target} HTTP/1.1\r\n${HOST}${CLOSE}\r\n`, { toPort: redirectPort });
      assert.equal(r.status, status, `${name}: ${r.text.slice(0, 300)}`);
      assert.ok(!r.text.includes(SECRET), `${name}: leaked a file outside the webroot`);
      check?.(r);
      const deltas = { [http(status, 'redirect')]: 1 };
      await expectDeltas(before, deltas, name);
      row('static', `${name} (${target})`, status, deltas);
    }

    await jsonCases(row);
    await protocolCases(row);
  } finally {
    legit.stop = true;
    await legit.done;
  }
  console.log(`hostile matrix: ${table.length} cases in ${Date.now() - started} ms; legitimate calls ${legit.ok}, failures ${legit.failures.length}`);
  console.log(['group | case | status | counters', ...table].join('\n'));
  assert.deepEqual(legit.failures, [], 'the legitimate client saw failures');
  assert.ok(legit.ok >= 20, `the legitimate client made only ${legit.ok} calls`);
  assert.ok(bastion.alive());
  // No connection ended through the error barrier (an exception in the connection code).
  assert.ok(!bastion.logs().includes('unexpected error'), bastion.logs().slice(-2000));
  const health = await fetch(`${bastion.base}/healthz`);
  assert.equal(health.status, 200);
  const deep = await (await fetch(`${bastion.admin}/healthz`)).json();
  assert.equal(deep.status, 'pass');
});

// JSON-RPC bodies on a live 2025-11-25 session: [name, body, {status, code, deltas, check}, extra check].
async function jsonCases(row) {
  const h = aliceSession;
  const rpc = (extra) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', ...extra });
  const nest = (n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  const bytes = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));  // strings and raw byte lists
  const bad = (code, status = 400) => ({ status, code, deltas: handled(status) });
  const cases = [
    ['"jsonrpc" is a number', rpc({ jsonrpc: 2.0 }), bad(-32600)],
    ['"jsonrpc" missing', JSON.stringify({ id: 7, method: 'tools/list' }), bad(-32600)],
    ['"method" is a number', rpc({ method: 42 }), bad(-32600)],
    ['"method" is empty', rpc({ method: '' }), bad(-32600)],
    ['"params" is an array', rpc({ params: [1] }), bad(-32600)],
    ['"params" is a string', rpc({ params: 'x' }), bad(-32600)],
    ['id null', rpc({ id: null }), bad(-32600)],
    ['id 1e30 (beyond 64 bits)', '{"jsonrpc":"2.0","id":1000000000000000000000000000000,"method":"tools/list"}', bad(-32600)],
    ['id float 1.5', rpc({ id: 1.5 }), bad(-32600)],
    ['id object', rpc({ id: { a: 1 } }), bad(-32600)],
    ['id array', rpc({ id: [1] }), bad(-32600)],
    ['id boolean', rpc({ id: true }), bad(-32600)],
    ['id 2^64-1 is a valid integer and is echoed exactly', '{"jsonrpc":"2.0","id":18446744073709551615,"method":"tools/list"}',
      { status: 200, deltas: { [mcpOk('tools/list')]: 1 }, check: (r) => assert.match(r.text, /"id":18446744073709551615[,}]/) }],
    ['nesting 33 deep (limit 32)', rpc({ params: { _meta: JSON.parse(nest(31)) } }), bad(-32700),
      (r) => assert.match(r.json.error.message, /deeper than 32/)],
    ['nesting 30 deep is within the limit', rpc({ params: { _meta: JSON.parse(nest(28)) } }),
      { status: 200, deltas: { [mcpOk('tools/list')]: 1 } }],
    ['array of 20000 numbers within the body limit', rpc({ params: { _meta: { big: new Array(20000).fill(0) } } }),
      { status: 200, deltas: { [mcpOk('tools/list')]: 1 } }],
    ['array beyond the body limit (64 KiB)', rpc({ params: { _meta: { big: new Array(40000).fill(0) } } }),
      { status: 413, deltas: refused(413, 'http_body_too_large') }],
    ['batch of 10000 junk items', JSON.stringify(new Array(10000).fill(0)), bad(-32600)],
    ['invalid UTF-8 in a string', bytes('{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"x":"', [0xff, 0xfe], '"}}}'), bad(-32700)],
    ['overlong UTF-8 encoding of "/"', bytes('{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"x":"', [0xc0, 0xaf], '"}}}'), bad(-32700)],
    ['UTF-8-encoded surrogate (ED A0 80)', bytes('{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"x":"', [0xed, 0xa0, 0x80], '"}}}'), bad(-32700)],
    ['lone high surrogate escape \\ud800', '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"x":"\\ud800"}}}', bad(-32700)],
    ['lone low surrogate escape \\udc00', '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"x":"\\udc00"}}}', bad(-32700)],
    ['UTF-8 BOM before the body', bytes([0xef, 0xbb, 0xbf], rpc({})), bad(-32700)],
    ['trailing garbage after the JSON', rpc({}) + ' x', bad(-32700)],
    ['two JSON documents', rpc({}) + rpc({}), bad(-32700)],
    ['empty body', '', bad(-32700)],
    ['whitespace-only body', '  \r\n ', bad(-32700)],
    ['"null"', 'null', bad(-32600)],
    ['a bare number', '42', bad(-32600)],
    ['batch on a 2025-11-25 session', JSON.stringify([JSON.parse(rpc({})), JSON.parse(rpc({ id: 8 }))]), bad(-32600)],
    ['empty batch', '[]', bad(-32600)],
    ['notification-only body: accepted, nothing to answer', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/whatever' }),
      { status: 202, deltas: handled(202) }],
    ['a response nobody asked for: accepted and dropped', JSON.stringify({ jsonrpc: '2.0', id: 'nobody-asked', result: {} }),
      { status: 202, deltas: handled(202) }],
  ];
  for (const [name, body, expected, extraCheck] of cases) {
    const before = await scrape();
    const r = await post(mcp, body, h);
    assert.equal(r.status, expected.status, `${name}: ${r.text.slice(0, 300)}`);
    if (expected.code !== undefined) {
      assert.equal(r.json?.error?.code, expected.code, `${name}: ${r.text.slice(0, 300)}`);
      assert.ok(r.json.error.message.length > 0);
    }
    expected.check?.(r);
    extraCheck?.(r);
    await expectDeltas(before, expected.deltas, name);
    row('json', name, expected.code !== undefined ? `${expected.status} / ${expected.code}` : expected.status, expected.deltas);
  }

  // Duplicate keys: the last one wins, everywhere the body is read (guards that look at the
  // method, the router, the record, the upstream all use the one parse), so two "method" keys
  // cannot show one method to a guard and run another. Here tools/call then tools/list: a
  // tools/list is answered.
  {
    const before = await scrape();
    const body = '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"dup"}},"method":"tools/list"}';
    const r = await post(mcp, body, h);
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json.result.tools), 'answered as tools/list');
    await expectDeltas(before, { [mcpOk('tools/list')]: 1 }, 'duplicate keys');
    row('json', 'duplicate "method" keys: the last wins (tools/list answered)', 200, { [mcpOk('tools/list')]: 1 });
  }
}

// MCP protocol abuse: sessions, fixation, header/body mismatches, versions.
async function protocolCases(row) {
  const list = { jsonrpc: '2.0', id: 11, method: 'tools/list' };
  const aliceBare = bearer(alice);
  const check = async (name, fn, status, code, deltas) => {
    const before = await scrape();
    const r = await fn();
    assert.equal(r.status, status, `${name}: ${r.text?.slice(0, 300)}`);
    if (code !== undefined) assert.equal(r.json?.error?.code, code, `${name}: ${r.text?.slice(0, 300)}`);
    await expectDeltas(before, deltas, name);
    row('protocol', name, code !== undefined ? `${status} / ${code}` : status, deltas);
    return r;
  };
  await check('unknown (well-formed) session id', () => post(mcp, list, { ...aliceBare, 'Mcp-Session-Id': 'A'.repeat(43) }), 404, -32001, handled(404));
  await check('garbage session id', () => post(mcp, list, { ...aliceBare, 'Mcp-Session-Id': '../../etc/passwd' }), 404, -32001, handled(404));
  await check('no session id', () => post(mcp, list, aliceBare), 400, -32000, handled(400));
  await check("another client's session (Bob's token on Alice's session)", () => post(mcp, list, { ...aliceSession, ...bearer(bob) }), 404, -32001, handled(404));
  await check("Alice's session without a token", () => post(mcp, list, { ...aliceSession, Authorization: '' }), 401, undefined,
    { [http(401)]: 1 });
  await check("Alice's session on another route", () => post(`${bastion.base}/mcp`, list, aliceSession), 404, -32001, handled(404));

  // Session fixation: an id chosen by the client on initialize is never adopted.
  const fixed = 'attacker-chosen-session-id';
  const init = await check('session fixation: initialize with a client-chosen Mcp-Session-Id', () => post(mcp, INIT, { ...aliceBare, 'Mcp-Session-Id': fixed }),
    200, undefined, { bastion_mcp_sessions: 1 });
  const minted = init.headers.get('mcp-session-id');
  assert.ok(minted && minted !== fixed);
  await check('session fixation: the client-chosen id does not exist afterwards', () => post(mcp, list, { ...aliceBare, 'Mcp-Session-Id': fixed, 'MCP-Protocol-Version': '2025-11-25' }),
    404, -32001, handled(404));
  const victim = aliceSession['Mcp-Session-Id'];
  const init2 = await check("session fixation: initialize presenting a live session's id", () => post(mcp, INIT, { ...aliceBare, 'Mcp-Session-Id': victim }),
    200, undefined, { bastion_mcp_sessions: 1 });
  assert.notEqual(init2.headers.get('mcp-session-id'), victim);

  // Versions on a 2025-11-25 session.
  await check('version downgrade mid-session (2025-03-26 on a 2025-11-25 session)', () => post(mcp, list, { ...aliceSession, 'MCP-Protocol-Version': '2025-03-26' }),
    400, -32000, handled(400));
  await check('version change mid-session (2025-06-18)', () => post(mcp, list, { ...aliceSession, 'MCP-Protocol-Version': '2025-06-18' }),
    400, -32000, handled(400));
  // A version that is not a 2025 one makes the request a 2026-07-28 one (docs/protocol.md),
  // which must then carry its version in _meta.
  await check('unknown version header on a session', () => post(mcp, list, { ...aliceSession, 'MCP-Protocol-Version': '1999-01-01' }), 400, -32602, handled(400));
  const negotiated = await check('initialize asking for an unknown version gets a supported one', () => post(mcp, { ...INIT, params: { ...INIT.params, protocolVersion: '1999-01-01' } }, aliceBare),
    200, undefined, { bastion_mcp_sessions: 1 });
  assert.match(negotiated.json.result.protocolVersion, /^20\d\d-\d\d-\d\d$/);
  assert.notEqual(negotiated.json.result.protocolVersion, '1999-01-01');

  // 2026-07-28 (stateless): Mcp-Method / Mcp-Name must match the body.
  const call = stateless('tools/call', { name: 'echo', arguments: { message: 'x' } }, 21);
  await check('2026: Mcp-Method differs from the body', () => post(mcp, call, { ...aliceBare, ...statelessHeaders('tools/list') }), 400, -32020, handled(400));
  await check('2026: Mcp-Name differs from the body', () => post(mcp, call, { ...aliceBare, ...statelessHeaders('tools/call', 'slow') }), 400, -32020, handled(400));
  await check('2026: Mcp-Method missing', () => post(mcp, call, { ...aliceBare, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Name': 'echo' }), 400, -32020, handled(400));
  await check('2026: Mcp-Name not valid Base64', () => post(mcp, call, { ...aliceBare, ...statelessHeaders('tools/call', '=?base64?!!!?=') }), 400, -32020, handled(400));
  await check('2026: version header differs from _meta', () => post(mcp, call, { ...aliceBare, ...statelessHeaders('tools/call', 'echo'), 'MCP-Protocol-Version': '2025-11-25' }),
    400, -32020, handled(400));
  const v999 = stateless('tools/list', {}, 22);
  v999.params._meta['io.modelcontextprotocol/protocolVersion'] = 'v999';
  await check('2026: unsupported version in _meta and header', () => post(mcp, v999, { ...aliceBare, ...statelessHeaders('tools/list'), 'MCP-Protocol-Version': 'v999' }),
    400, -32022, handled(400));
  await check('2026: a removed method (initialize)', () => post(mcp, stateless('initialize', {}, 23), { ...aliceBare, ...statelessHeaders('initialize') }),
    404, -32601, handled(404));
}
