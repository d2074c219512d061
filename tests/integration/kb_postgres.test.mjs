// The knowledge base against a real PostgreSQL that goes away under load: calls keep succeeding
// while the recorder spools to disk, /healthz says warn, and once PostgreSQL is back the spool
// drains so that every acknowledged call is exactly one row. Run under tests/services/postgres.sh
// (BASTION_TEST_PG_* in the environment); reads the table with psql (postgresql-client).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBastion, demoAgent } from './harness.mjs';

const run = promisify(execFile);
const env = Object.fromEntries(['URL', 'PASSWORD_FILE', 'ADMIN_URL', 'STOP', 'START']
  .map((k) => [k, process.env[`BASTION_TEST_PG_${k}`]]));
// Under ctest this must fail, not skip: a missing database is a broken setup.
for (const [k, v] of Object.entries(env)) {
  if (!v) throw new Error(`BASTION_TEST_PG_${k} is not set: run this file under tests/services/postgres.sh`);
}

const work = mkdtempSync(join(tmpdir(), 'bastion-kbpg-'));
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

const LOAD_MS = 45_000;     // the whole load
const OUTAGE_AT_MS = 5_000; // PostgreSQL stops this far in
const OUTAGE_MS = 30_000;   // and stays down this long, under load

const elapsed = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const tick = (ms) => new Promise((r) => setTimeout(r, ms));

// The admin URL names the `postgres` database; the table lives in `bastion`.
function psql(query) {
  const url = env.ADMIN_URL.replace(/@\/postgres\?/, '@/bastion?');
  assert.notEqual(url, env.ADMIN_URL, `unexpected admin URL ${env.ADMIN_URL}`);
  return execFileSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', query],
    { encoding: 'utf8', timeout: 10_000 }).trim();
}

async function metrics(admin) {
  const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(bastion_[a-z_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function database(admin) {
  const res = await fetch(`${admin}/healthz`, { signal: AbortSignal.timeout(5000) });
  const body = await res.json();
  return body.checks?.database?.[0];
}

// Polls `probe` until it returns a truthy value; bounded by `timeoutMs`.
async function until(what, timeoutMs, probe, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await tick(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

test('PostgreSQL down for 30 s under load: calls succeed, rows spool, then all arrive exactly once', async () => {
  // `nobody` re-reads the password at every reconnect: a 0644 copy in a 0755 directory.
  const secrets = join(work, 'secrets');
  mkdirSync(secrets, { mode: 0o755 });
  chmodSync(secrets, 0o755);
  const passwordFile = join(secrets, 'pg-password');
  copyFileSync(env.PASSWORD_FILE, passwordFile);
  chmodSync(passwordFile, 0o644);
  const home = join(work, 'home');
  mkdirSync(home, { mode: 0o755 });
  chmodSync(home, 0o755);

  const b = await startBastion({
    upstreams: { demo: demoAgent() },
    data_dir: join(home, 'data'),
    store: { url: env.URL, password_file: passwordFile, flush_interval: '100ms', batch: 200 },
  });
  const t0 = Date.now();
  const clients = [];
  let acknowledged = 0;
  const failures = [];
  let loading = true;
  let n = 0;
  let pgDown = false;
  let restarted = false;
  try {
    assert.equal((await database(b.admin))?.status, 'pass', 'the store is up at start');
    for (let c = 0; c < 4; c++) {
      const client = new Client({ name: `pg-load-${c}`, version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${b.base}/mcp`)));
      clients.push(client);
    }
    // Steady load: each client calls back to back, with a short pause to keep the rate sane on
    // a shared 2-core machine.
    const load = Promise.all(clients.map(async (client) => {
      while (loading) {
        const i = n++;
        try {
          const r = await client.callTool({ name: 'echo', arguments: { message: `pg ${i}` } },
            undefined, { timeout: 10_000 });
          if (!r.isError && r.content?.[0]?.text === `pg ${i}`) acknowledged++;
          else failures.push(`${elapsed(t0)} ${JSON.stringify(r)}`);
        } catch (e) {
          failures.push(`${elapsed(t0)} ${e}`);
        }
        await tick(5);
      }
    }));

    await tick(OUTAGE_AT_MS);
    const atOutage = await metrics(b.admin);
    assert.ok(atOutage.bastion_recorder_written_total > 0, 'rows reached PostgreSQL before the outage');
    await run(env.STOP, [], { timeout: 40_000 });
    pgDown = true;
    const outageStart = Date.now();
    console.log(`# ${elapsed(t0)} PostgreSQL stopped; ${acknowledged} calls so far, written ${atOutage.bastion_recorder_written_total}`);

    const down = await until('healthz database warn', 20_000, async () => {
      const d = await database(b.admin);
      return d?.status === 'warn' ? d : undefined;
    });
    assert.equal(down.storeUp, false, JSON.stringify(down));
    const spooledEarly = (await metrics(b.admin)).bastion_recorder_spooled_total;
    console.log(`# ${elapsed(t0)} healthz database warn: ${JSON.stringify(down)}`);

    await tick(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));
    const beforeRestart = await metrics(b.admin);
    const stillDown = await database(b.admin);
    assert.equal(stillDown?.status, 'warn', JSON.stringify(stillDown));
    assert.ok(beforeRestart.bastion_recorder_spooled_total > spooledEarly,
      `the spool grows during the outage (${spooledEarly} -> ${beforeRestart.bastion_recorder_spooled_total})`);
    assert.equal(beforeRestart.bastion_recorder_dropped_total, 0);
    assert.deepEqual(failures, [], 'every call succeeds while the database is down');
    console.log(`# ${elapsed(t0)} restarting PostgreSQL; spooled ${beforeRestart.bastion_recorder_spooled_total}, ${acknowledged} calls`);

    await run(env.START, [], { timeout: 40_000 });
    pgDown = false;
    restarted = true;
    const restartedAt = Date.now();
    // Watched while the load goes on: when the recorder notices the database is back.
    const storeBack = until('the recorder to see PostgreSQL again', 35_000, async () =>
      (await database(b.admin))?.storeUp === true, 250).then(() => {
      console.log(`# ${elapsed(t0)} the recorder sees PostgreSQL again, ${Date.now() - restartedAt} ms after the restart`);
    });
    storeBack.catch(() => {});
    await tick(Math.max(0, LOAD_MS - (Date.now() - t0)));
    loading = false;
    await load;
    console.log(`# ${elapsed(t0)} load stopped: ${acknowledged} acknowledged, ${failures.length} failed`);

    // The spool drains: the store is back, nothing queued, healthz database pass, and the store
    // holds a row for every call. The recorder retries with capped exponential backoff (30 s cap
    // after a 30 s outage), so noticing PostgreSQL is back can take that long.
    await storeBack;
    const drained = await until('the spool to drain', 20_000, async () => {
      const d = await database(b.admin);
      const m = await metrics(b.admin);
      return d?.status === 'pass' && d.storeUp && m.bastion_recorder_queue_depth === 0 &&
        m.bastion_recorder_written_total >= acknowledged ? m : undefined;
    });
    console.log(`# ${elapsed(t0)} drained: ${JSON.stringify(Object.fromEntries(Object.entries(drained).filter(([k]) => k.startsWith('bastion_recorder'))))}`);
    assert.equal(drained.bastion_recorder_dropped_total, 0);
    assert.ok(drained.bastion_recorder_spooled_total > 0);
  } finally {
    loading = false;
    if (pgDown && !restarted) await run(env.START, [], { timeout: 40_000 }).catch(() => {});
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    assert.equal(await b.stop(), 0);
  }
  assert.deepEqual(failures, []);
  const rows = Number(psql("SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call'"));
  const distinct = Number(psql("SELECT count(DISTINCT input_hash) FROM mcp_interactions WHERE method = 'tools/call'"));
  console.log(`# ${elapsed(t0)} rows ${rows}, distinct inputs ${distinct}, acknowledged ${acknowledged}`);
  assert.equal(rows, acknowledged, 'one row per acknowledged call');
  assert.equal(distinct, acknowledged, 'no call recorded twice');

  // Same columns as SQLite (ARCHITECTURE §6), and a row as the contract describes it.
  const columns = psql("SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = 'mcp_interactions'").split(',');
  for (const c of ['id', 'timestamp', 'agent_type', 'tool', 'method', 'client', 'session_hash', 'input_hash',
    'output_hash', 'status', 'error_code', 'error_message', 'output_quality', 'precision_score', 'agent_confidence',
    'contradiction_applied', 'contradiction_level', 'latency_ms', 'latency_bucket', 'request_bytes',
    'response_bytes', 'trace_id', 'input', 'output']) assert.ok(columns.includes(c), `column ${c} missing: ${columns}`);
  const hash = createHash('sha256').update('{"message":"pg 0"}').digest('hex');
  const row = psql(`SELECT agent_type, tool, client, status, contradiction_applied, input IS NULL, length(session_hash) FROM mcp_interactions WHERE input_hash = '${hash}'`);
  assert.equal(row, 'demo|echo|anonymous|ok|f|t|64');
});
