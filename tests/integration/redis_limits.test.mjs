// Shared rate limits through a real Redis (run under tests/services/redis.sh): two gateways
// share one bucket; when Redis dies, fail_mode open lets traffic through promptly and fail_mode
// closed answers 503; once Redis is back, limiting resumes. Then the same while Redis hangs.
//
// Client addresses pick the bucket (key: ip), so each phase talks from its own loopback address
// (127.0.0.0/8 is all local on Linux) and starts with a fresh bucket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import net from 'node:net';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBastion, demoAgent } from './harness.mjs';

const env = process.env;
for (const name of ['BASTION_TEST_REDIS_URL', 'BASTION_TEST_REDIS_PID', 'BASTION_TEST_REDIS_PORT',
  'BASTION_TEST_REDIS_PASSWORD_FILE', 'BASTION_TEST_REDIS_SERVER', 'BASTION_TEST_REDIS_CONF']) {
  // Under ctest this file runs inside tests/services/redis.sh: a missing variable is a failure.
  if (!env[name]) throw new Error(`${name} is not set: run this test under tests/services/redis.sh`);
}
const REDIS_PORT = Number(env.BASTION_TEST_REDIS_PORT);

// Bastion drops to `nobody` after binding and re-reads the password at each reconnect: give it
// a copy nobody can read (a throw-away test password).
const work = mkdtempSync(join(tmpdir(), 'bastion-redis-it-'));
chmodSync(work, 0o755);
const passwordFile = join(work, 'redis-password');
copyFileSync(env.BASTION_TEST_REDIS_PASSWORD_FILE, passwordFile);
chmodSync(passwordFile, 0o644);

let restarted; // the redis-server this test starts after killing the wrapper's one
after(async () => {
  if (restarted && restarted.exitCode === null && restarted.signalCode === null) {
    const gone = new Promise((r) => restarted.once('exit', r));
    restarted.kill('SIGCONT');
    restarted.kill('SIGTERM');
    const t = setTimeout(() => restarted.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
  rmSync(work, { recursive: true, force: true });
});

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });

// POST initialize to `base` from the loopback address `from`, on a fresh connection.
function hit(base, from) {
  const url = new URL(`${base}/mcp`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, agent: false,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        'Content-Length': Buffer.byteLength(INIT) },
      timeout: 5000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${base} within 5 s`)));
    req.on('error', reject);
    req.end(INIT);
  });
}

// Redis decided this request iff the reply carries RateLimit headers (fail-open adds none).
const decidedByRedis = (r) => r.status !== 503 && r.headers.ratelimit !== undefined;

// Polls with requests from `probe` until Redis decides for `b` (start-up, reconnect). Bounded.
async function untilConnected(b, probe, label) {
  let last;
  for (let i = 0; i < 300; i++) {
    last = await hit(b.base, probe);
    if (decidedByRedis(last)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${label} never reached Redis (last status ${last?.status}):\n${b.logs().slice(-2000)}`);
}

function portRefuses(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

async function until(cond, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

// `count` requests spread round-robin over `bastions` from `from`; returns statuses and timing.
async function burst(bastions, from, count) {
  const started = performance.now();
  const replies = [];
  for (let i = 0; i < count; i++) replies.push(await hit(bastions[i % bastions.length].base, from));
  return { replies, seconds: (performance.now() - started) / 1000 };
}

// 10r/m burst 5 nodelay: a fresh bucket admits 6 at once and one more every 6 s after that.
function assertSharedBucket({ replies, seconds }, label) {
  const ok = replies.filter((r) => r.status === 200).length;
  const maxOk = 6 + Math.floor(seconds / 6);
  assert.ok(ok >= 6 && ok <= maxOk, `${label}: ${ok} admitted in ${seconds.toFixed(1)} s, want 6..${maxOk}: ${replies.map((r) => r.status)}`);
  if (seconds < 6) assert.equal(ok, 6, label);
  assert.deepEqual(replies.slice(0, 6).map((r) => r.status), [200, 200, 200, 200, 200, 200], label);
  for (const r of replies.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 429, `${label}: ${r.body}`);
    assert.ok(Number(r.headers['retry-after']) >= 1, `${label}: Retry-After ${r.headers['retry-after']}`);
    assert.equal(r.headers['ratelimit-policy'], '"mcp_api";q=10;w=60');
    assert.match(r.headers.ratelimit, /^"mcp_api";r=0;t=\d+$/);
  }
}

test('two gateways share one Redis bucket; fail open/closed while Redis is down; limiting resumes after', async () => {
  const zone = { name: 'mcp_api', match: '/mcp', key: 'ip', rate: '10r/m', burst: 5, nodelay: true };
  // A generous per-check budget: this machine is shared and may run a sanitizer build.
  const redis = (fail_mode) => ({ url: env.BASTION_TEST_REDIS_URL, password_file: passwordFile, timeout: '500ms', fail_mode });
  const bastions = [];
  try {
    for (const mode of ['open', 'open', 'closed']) {
      bastions.push(await startBastion({ upstreams: { demo: demoAgent() }, rate_limits: [zone], redis: redis(mode) }));
    }
    const [b1, b2, b3] = bastions;
    for (const [i, b] of bastions.entries()) await untilConnected(b, '127.0.0.9', `bastion ${i + 1}`);

    // 1. One bucket across both gateways.
    const shared = await burst([b1, b2], '127.0.0.2', 20);
    assertSharedBucket(shared, 'shared bucket');
    // The 429s came from both gateways, so the second one saw the first one's requests.
    assert.ok(shared.replies.some((r, i) => i % 2 === 1 && r.status === 429));

    // 2. Redis dies.
    process.kill(Number(env.BASTION_TEST_REDIS_PID));
    await until(() => portRefuses(REDIS_PORT), 'redis to stop listening');
    // fail_mode open: the exhausted bucket no longer limits; every answer is prompt.
    for (let i = 0; i < 10; i++) {
      const r = await hit([b1, b2][i % 2].base, '127.0.0.2');
      assert.equal(r.status, 200, `fail-open request ${i}: ${r.status} ${r.body}`);
      assert.ok(r.ms < 1000, `fail-open request ${i} took ${r.ms.toFixed(0)} ms`);
      assert.equal(r.headers.ratelimit, undefined, 'nobody counted it: no RateLimit header');
    }
    // fail_mode closed: 503 (the limiter cannot decide), not 429, and promptly.
    for (let i = 0; i < 3; i++) {
      const r = await hit(b3.base, '127.0.0.4');
      assert.equal(r.status, 503, `fail-closed request ${i}: ${r.status} ${r.body}`);
      assert.equal(r.headers['retry-after'], '1');
      assert.ok(r.ms < 1000, `fail-closed request ${i} took ${r.ms.toFixed(0)} ms`);
    }
    for (const b of bastions) assert.ok(b.alive());

    // 3. Redis is back (empty: no persistence) on the same port with the same config.
    const redisDir = mkdtempSync(join(work, 'redis-'));
    const logfile = join(redisDir, 'redis.log');
    restarted = spawn(env.BASTION_TEST_REDIS_SERVER, [env.BASTION_TEST_REDIS_CONF, '--port', String(REDIS_PORT),
      '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', redisDir,
      '--logfile', logfile], { stdio: 'ignore' });
    await until(() => existsSync(logfile) && readFileSync(logfile, 'utf8').includes('Ready to accept connections'),
      'the restarted redis-server');
    for (const [i, b] of bastions.entries()) await untilConnected(b, '127.0.0.10', `bastion ${i + 1} after the restart`);
    const resumed = await burst(bastions, '127.0.0.3', 20);
    assertSharedBucket(resumed, 'after the restart');
    assert.ok(!resumed.replies.some((r) => r.status === 503));

    // 4. Redis hangs (SIGSTOP: the socket stays open, nothing answers): the per-check budget
    // answers instead, in both fail modes.
    restarted.kill('SIGSTOP');
    try {
      for (let i = 0; i < 4; i++) {
        const r = await hit([b1, b2][i % 2].base, '127.0.0.3');
        assert.equal(r.status, 200, `fail-open while Redis hangs, request ${i}: ${r.status} ${r.body}`);
        assert.ok(r.ms < 1000, `fail-open while Redis hangs, request ${i} took ${r.ms.toFixed(0)} ms`);
      }
      const r = await hit(b3.base, '127.0.0.4');
      assert.equal(r.status, 503, `fail-closed while Redis hangs: ${r.status} ${r.body}`);
      assert.ok(r.ms < 1000, `fail-closed while Redis hangs took ${r.ms.toFixed(0)} ms`);
    } finally {
      restarted.kill('SIGCONT');
    }
    for (const [i, b] of bastions.entries()) await untilConnected(b, '127.0.0.11', `bastion ${i + 1} after the hang`);
    const recovered = await burst(bastions, '127.0.0.5', 20);
    assertSharedBucket(recovered, 'after the hang');
    console.log(`shared: ${shared.replies.map((r) => r.status).join(' ')} (${shared.seconds.toFixed(2)} s); ` +
      `resumed: ${resumed.replies.map((r) => r.status).join(' ')} (${resumed.seconds.toFixed(2)} s); ` +
      `after the hang: ${recovered.replies.map((r) => r.status).join(' ')} (${recovered.seconds.toFixed(2)} s)`);
  } finally {
    // stop() asserts exit status 0 on SIGTERM.
    for (const b of bastions) await b.stop();
  }
});
