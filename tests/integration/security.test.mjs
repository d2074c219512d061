// The front door's controls against the real binary: security headers, rate limits (enforce and
// shadow), bearer tokens, JWT with a JWKS made here, auth_request against a local service,
// tool allowlists, session binding, IP filters, the redirect listener, the admin token, and no
// secret in the logs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASTION, startBastion, demoAgent, post, freePort } from './harness.mjs';

const work = mkdtempSync(join(tmpdir(), 'bastion-sec-'));
after(() => rmSync(work, { recursive: true, force: true }));

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
const bearer = (t) => ({ Authorization: `Bearer ${t}` });

function createToken(name, file, extra = []) {
  return execFileSync(BASTION, ['token', 'create', name, '--tokens-file', file, ...extra], { encoding: 'utf8' }).trim();
}

async function openSession(mcp, headers = {}) {
  const res = await post(mcp, INIT, headers);
  assert.equal(res.status, 200, res.text);
  const sid = res.headers.get('mcp-session-id');
  await post(mcp, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...headers, 'Mcp-Session-Id': sid });
  return { ...headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
}

test('every reply carries the seed security headers, no banner, no HSTS over plain HTTP', async () => {
  const b = await startBastion({ upstreams: { demo: demoAgent() } });
  try {
    for (const res of [await fetch(`${b.base}/healthz`), await fetch(`${b.base}/nope`),
      await fetch(`${b.base}/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: '{}' })]) {
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
      assert.equal(res.headers.get('content-security-policy'),
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'");
      assert.equal(res.headers.get('strict-transport-security'), null);
      assert.equal(res.headers.get('server'), null);
    }
    const api = await post(`${b.base}/mcp`, INIT);
    assert.equal(api.headers.get('cache-control'), 'no-store');
  } finally { await b.stop(); }
});

test('the seed zone: 10r/m burst 5 nodelay admits 6 then answers 429 with Retry-After and RateLimit headers', async () => {
  const b = await startBastion({ upstreams: { demo: demoAgent() },
    rate_limits: [{ name: 'mcp_api', match: '/mcp', key: 'ip', rate: '10r/m', burst: 5, nodelay: true }] });
  try {
    const statuses = [];
    let last;
    for (let i = 0; i < 7; i++) { last = await post(`${b.base}/mcp`, INIT); statuses.push(last.status); }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429]);
    assert.equal(last.headers.get('retry-after'), '6');
    assert.equal(last.headers.get('ratelimit-policy'), '"mcp_api";q=10;w=60');
    assert.match(last.headers.get('ratelimit'), /^"mcp_api";r=0;t=\d+$/);
    assert.equal(last.json.jsonrpc, '2.0');
    assert.match(last.json.error.message, /rate limit 'mcp_api'/);
    const health = await fetch(`${b.base}/healthz`);
    assert.equal(health.status, 200, '/healthz is outside the /mcp zone');
  } finally { await b.stop(); }
});

test('shadow mode logs what it would limit and lets everything through', async () => {
  const b = await startBastion({ upstreams: { demo: demoAgent() },
    rate_limits: [{ name: 'shadow', match: '/mcp', rate: '1r/m', burst: 0, enforce: false }] });
  try {
    for (let i = 0; i < 4; i++) assert.equal((await post(`${b.base}/mcp`, INIT)).status, 200);
    assert.match(b.logs(), /rate limit \(shadow\) zone=shadow .* would be limited/);
  } finally { await b.stop(); }
});

test('a tool zone limits one tool by name parsed from the body, not the others', async () => {
  const b = await startBastion({ upstreams: { demo: demoAgent() }, federation: { prefix: 'always' },
    rate_limits: [{ name: 'slow_tool', tool: 'demo__slow', key: 'tool', rate: '1r/m', burst: 0 }] });
  try {
    const mcp = `${b.base}/mcp`;
    const h = await openSession(mcp);
    const call = (name, id) => post(mcp, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: name.endsWith('slow') ? { ms: 1 } : { message: 'x' } } }, h);
    assert.equal((await call('demo__slow', 2)).status, 200);
    const limited = await call('demo__slow', 3);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 59);
    assert.equal((await call('demo__echo', 4)).status, 200);
    // A header cannot smuggle a different tool name past the body.
    const lying = await post(mcp, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'demo__slow', arguments: { ms: 1 } } },
      { ...h, 'Mcp-Name': 'demo__echo' });
    assert.equal(lying.status, 429);
  } finally { await b.stop(); }
});

test('bearer tokens: 401 with resource metadata, tool allowlists filter lists and deny calls, sessions stay with their owner', async () => {
  const tokens = join(work, 'tokens');
  const alice = createToken('alice', tokens, ['--tools', 'demo__echo']);
  const bob = createToken('bob', tokens);
  const b = await startBastion({ upstreams: { demo: demoAgent() }, federation: { prefix: 'always' },
    auth: { tokens_file: tokens, resource: 'https://mcp.example.test/mcp' } });
  try {
    const mcp = `${b.base}/mcp`;
    const none = await post(mcp, INIT);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'),
      /^Bearer .*resource_metadata="https:\/\/mcp\.example\.test\/\.well-known\/oauth-protected-resource\/mcp"/);
    assert.equal((await post(mcp, INIT, bearer('bst_nope_nope'))).status, 401);
    assert.equal((await post(mcp, INIT, bearer(alice + 'x'))).status, 401);

    const meta = await (await fetch(`${b.base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.equal(meta.resource, 'https://mcp.example.test/mcp');

    const ha = await openSession(mcp, bearer(alice));
    const list = await post(mcp, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, ha);
    assert.deepEqual(list.json.result.tools.map((t) => t.name), ['demo__echo']);
    const denied = await post(mcp, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'demo__slow', arguments: { ms: 1 } } }, ha);
    assert.equal(denied.json.error.code, -32003);
    const ok = await post(mcp, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'demo__echo', arguments: { message: 'hi' } } }, ha);
    assert.equal(ok.json.result.content[0].text, 'hi');

    const hb = await openSession(mcp, bearer(bob));
    assert.ok((await post(mcp, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, hb)).json.result.tools.length > 3);
    // Alice's session id presented with Bob's token: as if it did not exist.
    const hijack = await post(mcp, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { ...ha, ...bearer(bob) });
    assert.equal(hijack.status, 404);

    assert.ok(!b.logs().includes(alice) && !b.logs().includes(bob), 'a token reached the log');
  } finally { await b.stop(); }
});

test('JWT (ES256) against a JWKS file: audience, expiry and scopes enforced', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
  const jwks = join(work, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [jwk] }));
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const jwt = (claims) => {
    const input = `${b64({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const base = { iss: 'https://idp.example.test', aud: 'https://mcp.example.test/mcp', sub: 'carol', exp: now + 300, scope: 'mcp:use' };
  const b = await startBastion({ upstreams: { demo: demoAgent() },
    auth: { resource: 'https://mcp.example.test/mcp', required_scopes: ['mcp:use'],
      jwt: { issuer: 'https://idp.example.test', jwks_file: jwks } } });
  try {
    const mcp = `${b.base}/mcp`;
    const first = await post(mcp, INIT, bearer(jwt(base)));
    assert.equal(first.status, 200, first.text + b.logs());
    assert.equal((await post(mcp, INIT, bearer(jwt({ ...base, aud: 'https://other.example/mcp' })))).status, 401);
    assert.equal((await post(mcp, INIT, bearer(jwt({ ...base, exp: now - 3600 })))).status, 401);
    const scope = await post(mcp, INIT, bearer(jwt({ ...base, scope: 'other' })));
    assert.equal(scope.status, 403);
    assert.match(scope.headers.get('www-authenticate'), /error="insufficient_scope"/);
    const tampered = jwt(base).replace(/\.([^.]+)\./, (m, p) => `.${b64({ ...base, sub: 'mallory' })}.`);
    assert.equal((await post(mcp, INIT, bearer(tampered))).status, 401);
    const meta = await (await fetch(`${b.base}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.deepEqual(meta.authorization_servers, ['https://idp.example.test']);
  } finally { await b.stop(); }
});

test('auth_request: the subrequest decides, and its answer is cached briefly', async () => {
  let calls = 0;
  const service = createServer((req, res) => {
    calls++;
    if (req.headers.authorization === 'Bearer let-me-in') { res.writeHead(200, { 'X-Auth-User': 'dave' }); res.end(); }
    else { res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="svc"' }); res.end(); }
  });
  await new Promise((r) => service.listen(0, '127.0.0.1', r));
  const b = await startBastion({ upstreams: { demo: demoAgent() },
    auth: { auth_request: { url: `http://127.0.0.1:${service.address().port}/auth` } } });
  try {
    const mcp = `${b.base}/mcp`;
    assert.equal((await post(mcp, INIT, bearer('let-me-in'))).status, 200);
    assert.equal((await post(mcp, INIT, bearer('let-me-in'))).status, 200);
    assert.equal(calls, 1, 'second allow came from the cache');
    const denied = await post(mcp, INIT, bearer('wrong'));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="svc"');
  } finally { await b.stop(); service.close(); }
});

test('IP deny list, redirect listener, and the admin token', async () => {
  const adminToken = randomBytes(24).toString('hex');
  const adminFile = join(work, 'admin-token');
  writeFileSync(adminFile, adminToken + '\n');
  chmodSync(adminFile, 0o600);
  const redirectPort = await freePort();
  const b = await startBastion({ upstreams: { demo: demoAgent() },
    listen: { public: { address: '127.0.0.1:0' }, admin: { address: '127.0.0.1:0', token_file: adminFile },
      redirect: { address: `127.0.0.1:${redirectPort}` }, deny_cidrs: ['127.0.0.2/32'] } });
  try {
    const port = new URL(b.base).port;
    // fetch() may not set Host; a plain request can.
    const moved = await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: redirectPort, path: '/mcp?x=1', headers: { Host: 'mcp.example.test' } },
        (res) => { res.resume(); resolve(res); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(moved.statusCode, 301);
    assert.equal(moved.headers.location, `https://mcp.example.test:${port}/mcp?x=1`);
    assert.equal(moved.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal((await fetch(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/unknown`)).status, 404);
    assert.equal((await fetch(`${b.admin}/metrics`)).status, 401);
    assert.equal((await fetch(`${b.admin}/metrics`, { headers: bearer('wrong') })).status, 401);
    assert.equal((await fetch(`${b.admin}/metrics`, { headers: bearer(adminToken) })).status, 200);
    assert.ok(!b.logs().includes(adminToken), 'the admin token reached the log');
  } finally { await b.stop(); }
  const denied = await startBastion({ upstreams: { demo: demoAgent() }, listen: { public: { address: '127.0.0.1:0' },
    admin: { address: '127.0.0.1:0' }, deny_cidrs: ['127.0.0.0/8'] } });
  try {
    const res = await fetch(`${denied.base}/healthz`);
    assert.equal(res.status, 403);
  } finally { await denied.stop(); }
});
