// No secret escapes: a gateway configured with every kind of secret (admin token, bearer tokens,
// an HTTP upstream's headers file, the store and Redis passwords), then driven with a valid
// token, a wrong one and a JWT-shaped string, must not show any of them in its log, its argv,
// its children's argv or environment, its data directory (spool included), its replies, or
// check-config's output. Every secret is random per run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASTION, startBastion, demoAgent, post, freePort, childrenOf } from './harness.mjs';

const work = mkdtempSync(join(tmpdir(), 'bastion-secrets-'));
// Files read after the drop to `nobody` (reconnects) must stay readable: test secrets only.
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

const hex = (n) => randomBytes(n).toString('hex');
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function secretFile(name, content) {
  const path = join(work, name);
  writeFileSync(path, content + '\n');
  chmodSync(path, 0o644);
  return path;
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

// Every descendant of `pid` (agents may fork helpers of their own).
function descendants(pid) {
  const out = [];
  const todo = [pid];
  while (todo.length && out.length < 1000) {
    for (const c of childrenOf(todo.shift())) { out.push(c); todo.push(c); }
  }
  return out;
}

function readProc(path) {
  try { return readFileSync(path).toString('latin1'); } catch { return ''; } // it may have exited
}

// All regular files under `dir` as text (bounded), for a scan of what the gateway wrote.
function filesUnder(dir, skip) {
  const out = [];
  const walk = (d) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = join(d, e.name);
      if (skip.has(p)) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < (64 << 20)) out.push([p, readFileSync(p).toString('latin1')]);
    }
  };
  walk(dir);
  return out;
}

function assertNoSecret(where, text, secrets) {
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!text.includes(value), `${name} leaked into ${where}`);
  }
}

test('no secret reaches logs, argv, child environments, the data dir or check-config output', async (t) => {
  const adminToken = hex(24);
  const upstreamSecret = hex(24);
  const storePassword = hex(24);
  const redisPassword = hex(24);
  const wrongToken = `bst_${hex(8)}_${hex(16)}`;
  const jwtShaped = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: hex(8), exp: 4102444800 })}.${randomBytes(32).toString('base64url')}`;

  const tokensFile = join(work, 'tokens');
  const bearerToken = execFileSync(BASTION, ['token', 'create', 'alice', '--tokens-file', tokensFile], { encoding: 'utf8' }).trim();
  assert.ok(bearerToken.length >= 20, `token create printed ${bearerToken.length} characters`);
  chmodSync(tokensFile, 0o644);
  const secrets = { adminToken, upstreamSecret, storePassword, redisPassword, bearerToken, wrongToken, jwtShaped };

  // The HTTP upstream: answers 404 to everything and remembers what it was sent.
  const seen = [];
  const upstream = createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    req.on('end', () => { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('no'); });
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  // Closed however the test ends (a gateway that fails to start must not leave it listening).
  t.after(() => { upstream.closeAllConnections(); upstream.close(); });

  const config = {
    log: { level: 'debug', format: 'text' }, // more detail must not mean more secrets
    // Outside the harness's directory (removed by stop()): scanned again after the shutdown,
    // when the recorder has spooled what the (unreachable) store did not take.
    data_dir: join(work, 'data'),
    shutdown_grace: '2s',
    listen: { public: { address: '127.0.0.1:0' },
      admin: { address: '127.0.0.1:0', token_file: secretFile('admin-token', adminToken) } },
    auth: { tokens_file: tokensFile },
    upstreams: {
      demo: demoAgent(),
      remote: { url: `http://127.0.0.1:${upstream.address().port}/mcp`,
        headers_file: secretFile('remote-headers', `Authorization: Bearer ${upstreamSecret}`), timeout: '2s' },
    },
    store: { url: 'postgres://bastion@127.0.0.1:1/x', password_file: secretFile('store-password', storePassword) },
    redis: { url: `redis://127.0.0.1:${await freePort()}`, password_file: secretFile('redis-password', redisPassword),
      fail_mode: 'open' },
  };
  // check-config on the same file the gateway uses.
  const configPath = join(work, 'bastion.yaml');
  writeFileSync(configPath, JSON.stringify({ data_dir: join(work, 'check-data'), rate_limits: [], ...config }, null, 2));
  const check = spawnSync(BASTION, ['check-config', '-c', configPath], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assertNoSecret('check-config output', check.stdout + check.stderr, secrets);

  const b = await startBastion(config);
  try {
    const mcp = `${b.base}/mcp`;
    const replies = [];
    const send = async (url, headers) => { const r = await post(url, INIT, headers); replies.push(r); return r; };
    const ok = await send(mcp, { Authorization: `Bearer ${bearerToken}` });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await send(mcp, { Authorization: `Bearer ${wrongToken}` })).status, 401);
    assert.equal((await send(mcp, { Authorization: `Bearer ${jwtShaped}` })).status, 401);
    // The token in other places a careless logger might print: a header and the query string.
    await send(`${mcp}?access_token=${wrongToken}`, { 'X-Api-Key': jwtShaped });
    // The remote upstream is reached through the gateway (it answers 404; a failure is fine).
    await send(`${mcp}/remote`, { Authorization: `Bearer ${bearerToken}` });
    // No reply echoes a credential back (error messages, WWW-Authenticate).
    for (const r of replies) assertNoSecret(`a ${r.status} reply`, r.text + JSON.stringify([...r.headers]), secrets);
    assert.equal((await fetch(`${b.admin}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } })).status, 200);
    assert.equal((await fetch(`${b.admin}/metrics`, { headers: { Authorization: `Bearer ${wrongToken}` } })).status, 401);
    const metrics = await (await fetch(`${b.admin}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } })).text();
    assertNoSecret('/metrics', metrics, secrets);

    const pid = b.proc.pid;
    assertNoSecret(`/proc/${pid}/cmdline`, readProc(`/proc/${pid}/cmdline`), secrets);
    assertNoSecret(`/proc/${pid}/environ`, readProc(`/proc/${pid}/environ`), secrets);
    const children = descendants(pid);
    assert.ok(children.length >= 1, 'the stdio agent runs as a child of bastion');
    for (const c of children) {
      assertNoSecret(`/proc/${c}/cmdline`, readProc(`/proc/${c}/cmdline`), secrets);
      assertNoSecret(`/proc/${c}/environ`, readProc(`/proc/${c}/environ`), secrets);
    }
    // What the gateway wrote (data dir: records, spool, state) holds no raw secret either.
    for (const [path, text] of filesUnder(b.dir, new Set([b.configPath]))) assertNoSecret(path, text, secrets);
    for (const [path, text] of filesUnder(join(work, 'data'), new Set())) assertNoSecret(path, text, secrets);
    assertNoSecret('the log (while running)', b.logs(), secrets);
    // Informational: the headers file is used (the upstream saw its value, never a client's token).
    for (const a of seen) assert.ok(a === undefined || a === `Bearer ${upstreamSecret}`, 'a client credential was forwarded upstream');
  } finally {
    await b.stop();
  }
  assertNoSecret('the log', b.logs(), secrets);
  const written = filesUnder(join(work, 'data'), new Set());
  for (const [path, text] of written) assertNoSecret(path, text, secrets);

  // A password inside a URL is refused, without repeating it.
  for (const [key, url] of [['store', `postgres://bastion:${storePassword}@127.0.0.1:1/x`],
    ['redis', `redis://:${redisPassword}@127.0.0.1:1`], ['redis', `redis://default:${redisPassword}@127.0.0.1:1/0`]]) {
    const bad = join(work, `bad-${key}.yaml`);
    writeFileSync(bad, JSON.stringify({ data_dir: join(work, 'check-data'), upstreams: { demo: demoAgent() },
      [key]: { url } }, null, 2));
    const refused = spawnSync(BASTION, ['check-config', '-c', bad], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0, `${key}.url with a password was accepted`);
    assert.match(refused.stdout + refused.stderr, new RegExp(`${key}\\.url`), refused.stderr);
    assertNoSecret(`check-config error output for ${key}.url`, refused.stdout + refused.stderr, secrets);
    // serve refuses it the same way.
    const serve = spawnSync(BASTION, ['serve', '-c', bad], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(serve.status, 0);
    assertNoSecret(`serve error output for ${key}.url`, serve.stdout + serve.stderr, secrets);
  }
});
