// The knowledge base end to end, against SQLite: crafted MCP calls through the real binary must
// become exactly the rows ARCHITECTURE §6 describes (hashes, tags, buckets, statuses, capture
// modes); a burst of load followed by SIGTERM must lose no acknowledged call; and
// `bastion dataset export` over a crafted history must write the files of §7.
// Reads the database with the sqlite3 CLI (Debian package sqlite3).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BASTION, startBastion, demoAgent, post, sseMessages, stateless, statelessHeaders } from './harness.mjs';

// Bastion drops to `nobody`: every directory above its data_dir must let it through.
const work = mkdtempSync(join(tmpdir(), 'bastion-kb-'));
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

let seq = 0;
// A fresh 0755 directory of ours; bastion creates `data` inside it itself.
function scratch(name) {
  const d = join(work, `${name}-${++seq}`);
  mkdirSync(d, { mode: 0o755 });
  chmodSync(d, 0o755);
  return d;
}

const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

// RFC 8785 for the plain values these tests send: keys sorted by UTF-16 code units,
// ECMAScript number and string serialisation (which is what JSON.stringify does).
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function sql(db, query) {
  const out = execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
}

// Unlabelled samples of the Prometheus text exposition.
async function metrics(admin) {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(bastion_[a-z_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// One JSON-RPC exchange; the reply may come as JSON or as an SSE stream.
async function rpc(url, body, headers = {}) {
  const res = await post(url, body, headers);
  assert.equal(res.status, 200, res.text);
  const msg = res.json ?? sseMessages(res.text).find((m) => m.id === body.id);
  assert.ok(msg, `no reply to ${body.method}: ${res.text}`);
  return { ...res, msg };
}

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'kb-tests', version: '1' } } };

async function openSession(mcp) {
  const res = await post(mcp, INIT);
  assert.equal(res.status, 200, res.text);
  const sid = res.headers.get('mcp-session-id');
  assert.ok(sid, 'initialize returned no Mcp-Session-Id');
  const headers = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
  const note = await post(mcp, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  assert.equal(note.status, 202, note.text);
  let id = 0;
  return {
    sid, headers,
    async call(name, args) { return (await rpc(mcp, { jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: args } }, headers)).msg; },
    async request(method, params = {}) { return (await rpc(mcp, { jsonrpc: '2.0', id: ++id, method, params }, headers)).msg; },
  };
}

// Copies the generated config (the harness deletes its directory on stop) for the CLI to reuse.
function keepConfig(b, dir) {
  const path = join(dir, 'bastion.json');
  writeFileSync(path, readFileSync(b.configPath));
  return path;
}

const COLUMNS = ['id', 'timestamp', 'agent_type', 'tool', 'method', 'client', 'session_hash', 'input_hash',
  'output_hash', 'status', 'error_code', 'error_message', 'output_quality', 'precision_score', 'agent_confidence',
  'contradiction_applied', 'contradiction_level', 'latency_ms', 'latency_bucket', 'request_bytes',
  'response_bytes', 'trace_id', 'input', 'output'];

test('crafted calls become exactly the rows of ARCHITECTURE §6 (capture full)', async () => {
  const dir = scratch('rows');
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'interactions.db');
  const b = await startBastion({ upstreams: { demo: demoAgent() }, data_dir: dataDir,
    store: { capture: 'full', flush_interval: '50ms' } });
  const mcp = `${b.base}/mcp`;
  const s = await openSession(mcp);
  const replies = [];
  try {
    const list = await s.request('tools/list');
    assert.ok(list.result.tools.some((t) => t.name === 'echo'), JSON.stringify(list));
    const calls = [
      ['echo', { a: 1, b: [1, 2] }],
      ['echo', { b: [1, 2], a: 1 }],
      ['echo', { message: 'héllo ✓', n: 1.5, nested: { z: true, y: null } }],
      ['contradict', { claim: 'the moon is made of cheese', level: 'extreme' }],
      ['contradict', { claim: 'water is wet', level: 'none', quality: 0.9 }],
      ['slow', { ms: 300 }],
      ['fail', { code: -32001 }],
      ['fail', {}],
    ];
    for (const [name, args] of calls) replies.push({ name, args, msg: await s.call(name, args) });
  } finally {
    assert.equal(await b.stop(), 0);  // SIGTERM flushes the recorder
  }

  // Every column of the contract exists.
  const info = sql(db, 'PRAGMA table_info(mcp_interactions)').map((c) => c.name);
  for (const c of COLUMNS) assert.ok(info.includes(c), `column ${c} missing: ${info}`);

  const sessionHash = sha256(s.sid);
  const rows = sql(db, `SELECT * FROM mcp_interactions WHERE session_hash = '${sessionHash}' AND method <> 'initialize' ORDER BY timestamp, id`);
  assert.deepEqual(rows.map((r) => [r.method, r.tool]),
    [['tools/list', null], ...replies.map((r) => ['tools/call', r.name])],
    JSON.stringify(rows.map((r) => [r.method, r.tool, r.status])));
  for (const r of rows) {
    assert.equal(r.client, 'anonymous');
    // The federated endpoint's own methods (tools/list) belong to no single upstream.
    assert.equal(r.agent_type, r.method === 'tools/call' ? 'demo' : '');
    assert.equal(r.session_hash, sessionHash);
    assert.match(r.id, /^[0-9a-f-]{36}$/);
    assert.match(r.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(r.request_bytes > 0 && r.response_bytes > 0, JSON.stringify(r));
    assert.ok(r.latency_ms >= 0);
  }
  const [listRow, ...callRows] = rows;
  assert.equal(listRow.input_hash, null, 'tools/list has no input hash');
  assert.equal(listRow.status, 'ok');

  // Key order does not change the hash: RFC 8785 canonical JSON, computed here independently.
  assert.equal(callRows[0].input_hash, sha256('{"a":1,"b":[1,2]}'));
  assert.equal(callRows[1].input_hash, callRows[0].input_hash);
  for (let i = 0; i < replies.length; i++) {
    const { args, msg } = replies[i];
    const row = callRows[i];
    assert.equal(row.input_hash, sha256(canonical(args)), `input_hash of ${JSON.stringify(args)}`);
    const recorded = msg.result ?? msg.error;
    assert.equal(row.output_hash, sha256(canonical(recorded)), `output_hash of ${JSON.stringify(recorded)}`);
    // capture full: the payloads themselves.
    assert.deepEqual(JSON.parse(row.input), args);
    assert.deepEqual(JSON.parse(row.output), recorded);
  }

  // echo without `message` is an isError tool result.
  assert.equal(replies[0].msg.result.isError, true);
  assert.equal(callRows[0].status, 'error');
  const echoOk = callRows[2];
  assert.equal(echoOk.status, 'ok');
  assert.equal(echoOk.latency_bucket, 'fast');
  assert.equal(echoOk.output_quality, null);
  assert.equal(echoOk.contradiction_applied, 0);
  assert.equal(echoOk.contradiction_level, 'none');
  assert.equal(echoOk.error_code, null);

  // contradict: the tags are what the agent put in its result's _meta.
  for (const i of [3, 4]) {
    const meta = replies[i].msg.result._meta;
    const row = callRows[i];
    assert.equal(row.status, 'ok');
    assert.equal(row.output_quality, meta['bastion/quality']);
    assert.equal(row.precision_score, meta['bastion/precision']);
    assert.equal(row.agent_confidence, meta['bastion/confidence']);
    assert.equal(row.contradiction_level, meta['bastion/contradiction']);
    assert.equal(row.contradiction_applied, meta['bastion/contradiction'] === 'none' ? 0 : 1);
  }
  assert.equal(callRows[3].contradiction_level, 'extreme');
  assert.equal(callRows[4].output_quality, 0.9);

  // slow 300 ms: more than fast (250 ms), within normal (1 s).
  assert.ok(callRows[5].latency_ms >= 300, String(callRows[5].latency_ms));
  assert.equal(callRows[5].latency_bucket, 'normal');

  // fail with a code: a JSON-RPC error, recorded with its code and message.
  assert.equal(replies[6].msg.error.code, -32001);
  assert.equal(callRows[6].status, 'error');
  assert.equal(callRows[6].error_code, -32001);
  assert.equal(callRows[6].error_message, 'Requested failure with JSON-RPC code -32001');
  // fail without one: an isError result.
  assert.equal(replies[7].msg.result.isError, true);
  assert.equal(callRows[7].status, 'error');
  assert.equal(callRows[7].error_code, null);
});

test('capture hashed keeps only hashes; a rate-limited call is a rate_limited row', async () => {
  const dir = scratch('hashed');
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'interactions.db');
  const b = await startBastion({ upstreams: { demo: demoAgent() }, data_dir: dataDir,
    store: { capture: 'hashed', flush_interval: '50ms' },
    rate_limits: [{ name: 'tight', match: '/mcp', key: 'ip', rate: '1r/m', burst: 0 }] });
  const mcp = `${b.base}/mcp`;
  const args = { message: 'only a hash' };
  let first, second;
  try {
    first = await post(mcp, stateless('tools/call', { name: 'echo', arguments: args }, 1), statelessHeaders('tools/call', 'echo'));
    second = await post(mcp, stateless('tools/call', { name: 'echo', arguments: args }, 2), statelessHeaders('tools/call', 'echo'));
  } finally {
    assert.equal(await b.stop(), 0);
  }
  assert.equal(first.status, 200, first.text);
  assert.equal(second.status, 429, second.text);
  const rows = sql(db, 'SELECT * FROM mcp_interactions ORDER BY timestamp, id');
  assert.equal(rows.length, 2, JSON.stringify(rows));
  const [ok, limited] = rows;
  assert.equal(ok.method, 'tools/call');
  assert.equal(ok.tool, 'echo');
  assert.equal(ok.status, 'ok');
  assert.equal(ok.input_hash, sha256(canonical(args)));
  assert.match(ok.output_hash, /^[0-9a-f]{64}$/);
  assert.equal(ok.input, null);
  assert.equal(ok.output, null);
  assert.equal(ok.client, 'anonymous');
  assert.equal(limited.status, 'rate_limited');
  // The zone rejects before the body is parsed, so the row names the HTTP request, not the tool.
  assert.ok((limited.method === 'tools/call' && limited.tool === 'echo') ||
    (limited.method === 'http POST' && limited.tool === null), JSON.stringify(limited));
  assert.equal(limited.error_code, 429);
  assert.match(limited.timestamp, /^\d{4}-\d\d-\d\dT/);
  assert.ok(limited.timestamp >= ok.timestamp);
  assert.equal(limited.client, 'anonymous');
  assert.equal(limited.input, null);
  assert.equal(limited.output, null);
});

test('300 calls from 8 clients, then SIGTERM: every acknowledged call is a row', async () => {
  const dir = scratch('load');
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'interactions.db');
  // A long flush interval: the rows are still in the recorder when SIGTERM arrives.
  const b = await startBastion({ upstreams: { demo: demoAgent() }, data_dir: dataDir,
    store: { flush_interval: '60s', batch: 1000 } });
  const total = 300;
  let next = 0;
  let acknowledged = 0;
  const failures = [];
  const clients = [];
  let before;
  try {
    for (let c = 0; c < 8; c++) {
      const client = new Client({ name: `load-${c}`, version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${b.base}/mcp`)));
      clients.push(client);
    }
    const t0 = Date.now();
    await Promise.all(clients.map(async (client) => {
      while (next < total) {
        const n = next++;
        try {
          const r = await client.callTool({ name: 'echo', arguments: { message: `load ${n}` } });
          if (!r.isError && r.content?.[0]?.text === `load ${n}`) acknowledged++;
          else failures.push(JSON.stringify(r));
        } catch (e) {
          failures.push(String(e));
        }
      }
    }));
    console.log(`# ${acknowledged}/${total} acknowledged in ${Date.now() - t0} ms`);
    before = await metrics(b.admin);
    const recorder = Object.entries(before).filter(([k]) => k.startsWith('bastion_recorder_'));
    console.log(`# before SIGTERM: ${JSON.stringify(Object.fromEntries(recorder))}`);
  } finally {
    // close() only drops the client's connections (no DELETE): no request is in flight at SIGTERM.
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    assert.equal(await b.stop(), 0);
  }
  assert.deepEqual(failures, []);
  assert.equal(acknowledged, total);
  assert.equal(before.bastion_recorder_dropped_total, 0);
  // Otherwise this would not test the flush at SIGTERM at all.
  assert.ok(before.bastion_recorder_written_total < total, 'rows are still pending when SIGTERM arrives');
  const [{ n }] = sql(db, "SELECT count(*) AS n FROM mcp_interactions WHERE method = 'tools/call'");
  assert.equal(n, acknowledged);
  const [{ n_distinct: distinct }] = sql(db, "SELECT count(DISTINCT input_hash) AS n_distinct FROM mcp_interactions WHERE method = 'tools/call' AND status = 'ok'");
  assert.equal(distinct, total, 'one row per call, none twice');
});

test('SIGKILL under load with store.durability sync: after restart every acknowledged call is a row', async () => {
  const dir = scratch('kill');
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'interactions.db');
  const config = { upstreams: { demo: demoAgent() }, data_dir: dataDir, store: { durability: 'sync', batch: 200 } };
  const b = await startBastion(config);
  const acknowledged = new Set();
  let next = 0;
  let killed = false;
  const worker = async () => {
    while (!killed) {
      const n = next++;
      try {
        const r = await post(`${b.base}/mcp/demo`, stateless('tools/call', { name: 'echo', arguments: { message: `kill ${n}` } }),
          statelessHeaders('tools/call', 'echo'));
        if (r.status === 200 && r.json?.result?.content?.[0]?.text === `kill ${n}`) acknowledged.add(n);
      } catch { /* the process is gone: not acknowledged */ }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  const deadline = Date.now() + 30000;
  while (acknowledged.size < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  b.proc.kill('SIGKILL');  // mid-load: calls are in flight, rows are in the recorder's hands
  killed = true;
  await Promise.all(workers);
  await b.stop('SIGKILL');
  assert.ok(acknowledged.size >= 400, `only ${acknowledged.size} calls before the deadline`);
  // The same data directory: the spool left by the kill is replayed at start, SIGTERM flushes.
  const again = await startBastion(config);
  const replayed = await metrics(again.admin);
  assert.equal(await again.stop(), 0);
  const rows = new Set(sql(db, "SELECT input_hash FROM mcp_interactions WHERE method = 'tools/call' AND status = 'ok'")
    .map((r) => r.input_hash));
  const missing = [...acknowledged].filter((n) => !rows.has(sha256(canonical({ message: `kill ${n}` }))));
  console.log(`# SIGKILL: ${acknowledged.size} acknowledged of ${next} sent, ${rows.size} rows after restart ` +
    `(${rows.size - acknowledged.size} more: written, reply lost in the kill); written after restart ` +
    `${replayed.bastion_recorder_written_total ?? 0}; missing ${missing.length}`);
  assert.deepEqual(missing, [], 'acknowledged calls missing after SIGKILL');
  assert.ok(rows.size <= next, 'no row for a call that was never sent');
});

// A tiny stdio MCP server (test fixture) whose `judge` tool answers the same question differently
// each time, with and without a contradiction: the demo agent derives everything from its input,
// so it can never produce both kinds of reply for one (tool, input).
const ORACLE = String.raw`
const rl = require('readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const plans = { better: [['moderate', 0.9], ['none', 0.6]], worse: [['mild', 0.3], ['none', 0.8]] };
const seen = new Map();
rl.on('line', (line) => {
  let m; try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined || typeof m.method !== 'string') return;
  const p = m.params || {};
  if (m.method === 'initialize') return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: p.protocolVersion || '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'oracle', version: '1' } } });
  if (m.method === 'ping') return send({ jsonrpc: '2.0', id: m.id, result: {} });
  if (m.method === 'tools/list') return send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'judge', description: 'judges', inputSchema: { type: 'object', properties: { question: { type: 'string' } }, required: ['question'] } }] } });
  if (m.method === 'tools/call') {
    const q = String((p.arguments || {}).question);
    const n = seen.get(q) || 0; seen.set(q, n + 1);
    const [level, quality] = (plans[q] || [['none', 0.5]])[n % 2];
    return send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: level + ' answer ' + n + ' to ' + q }], _meta: { 'bastion/quality': quality, 'bastion/contradiction': level } } });
  }
  send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'method not found' } });
});`;

test('dataset export over a crafted history writes the files of §7', async () => {
  const dir = scratch('export');
  const dataDir = join(dir, 'data');
  const db = join(dataDir, 'interactions.db');
  const out = join(dir, 'dataset');
  const b = await startBastion({
    upstreams: {
      demo: demoAgent({ timeout: '1500ms' }),
      oracle: { command: process.execPath, args: ['-e', ORACLE] },
    },
    data_dir: dataDir,
    store: { capture: 'full', flush_interval: '50ms' },
  });
  const config = keepConfig(b, dir);
  const demo = await openSession(`${b.base}/mcp/demo`);
  const oracle = await openSession(`${b.base}/mcp/oracle`);
  const judged = {};
  try {
    for (let i = 0; i < 4; i++) assert.equal((await demo.call('echo', { message: 'repeat me' })).result.content[0].text, 'repeat me');
    await demo.call('echo', { message: 'once' });
    const same = [];
    for (let i = 0; i < 3; i++) same.push((await demo.call('contradict', { claim: 'same claim' })).result);
    // The demo agent is deterministic: the same claim always gets the same reply and tags.
    assert.deepEqual(same[1], same[0]);
    assert.deepEqual(same[2], same[0]);
    await demo.call('contradict', { claim: 'another claim', level: 'mild', quality: 0.95 });
    for (const attempt of [1, 2, 3]) assert.equal((await demo.call('fail', { code: -32001, attempt })).error.code, -32001);
    assert.equal((await demo.call('fail', { code: -32002 })).error.code, -32002);
    for (const ms of [3000, 3100]) {
      const r = await demo.call('slow', { ms });
      assert.ok(r.error, `slow ${ms} should time out: ${JSON.stringify(r)}`);
    }
    await demo.call('slow', { ms: 10 });
    for (const q of ['better', 'better', 'worse', 'worse']) {
      const r = await oracle.call('judge', { question: q });
      (judged[q] ??= []).push(r.result);
    }
  } finally {
    assert.equal(await b.stop(), 0);
  }
  assert.equal(judged.better[0]._meta['bastion/contradiction'], 'moderate');
  assert.equal(judged.better[1]._meta['bastion/contradiction'], 'none');

  const t0 = Date.now();
  const cli = execFileSync(BASTION, ['dataset', 'export', '-c', config, '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  console.log(`# export took ${Date.now() - t0} ms ${cli}`);

  const files = ['successful_interactions.jsonl', 'contradiction_improvements.jsonl', 'failure_patterns.jsonl',
    'optimization_opportunities.jsonl'];
  assert.deepEqual(readdirSync(out).sort(), [...files, 'manifest.json'].sort());
  const data = {};
  for (const f of files) {
    const text = readFileSync(join(out, f), 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), `${f} ends with a newline`);
    data[f] = text.split('\n').filter((l) => l !== '').map((l, i) => {
      try { return JSON.parse(l); } catch (e) { throw new Error(`${f}:${i + 1} is not JSON: ${l}`); }
    });
  }
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  for (const f of files) assert.equal(manifest.files[f].lines, data[f].length, `manifest count of ${f}`);
  const [{ n: rowsInDb }] = sql(db, 'SELECT count(*) AS n FROM mcp_interactions');
  assert.equal(manifest.rows_scanned, rowsInDb);
  assert.equal(manifest.capture_mode, 'full');
  assert.equal(manifest.store, 'sqlite');
  assert.ok(Number.isInteger(manifest.schema_version) && manifest.schema_version >= 1);

  // successful_interactions: one example per ok call at or above the quality threshold.
  const [{ n: okCalls }] = sql(db, "SELECT count(*) AS n FROM mcp_interactions WHERE method = 'tools/call' AND status = 'ok' AND (output_quality IS NULL OR output_quality >= 0.7)");
  const successful = data['successful_interactions.jsonl'];
  assert.equal(successful.length, okCalls);
  const repeatHash = sha256(canonical({ message: 'repeat me' }));
  const echoes = successful.filter((e) => e.metadata.tool === 'echo' && e.metadata.input_hash === repeatHash);
  assert.equal(echoes.length, 4);
  const [ex] = echoes;
  assert.equal(ex.tools[0].function.name, 'echo');
  const call = ex.messages[0].tool_calls[0];
  assert.equal(ex.messages[0].role, 'assistant');
  assert.equal(call.function.name, 'echo');
  assert.deepEqual(JSON.parse(call.function.arguments), { message: 'repeat me' });
  assert.equal(ex.messages[1].role, 'tool');
  assert.equal(ex.messages[1].tool_call_id, call.id);
  assert.equal(JSON.parse(ex.messages[1].content).content[0].text, 'repeat me');
  assert.equal(ex.metadata.agent_type, 'demo');
  assert.ok(successful.every((e) => e.metadata.output_quality === null || e.metadata.output_quality >= 0.7));

  // contradiction_improvements: only where a contradiction reply beat a plain one for one input.
  const pairs = data['contradiction_improvements.jsonl'];
  assert.equal(pairs.length, 1, JSON.stringify(pairs));
  const [pair] = pairs;
  assert.equal(pair.tool, 'judge');
  assert.equal(pair.input_hash, sha256(canonical({ question: 'better' })));
  assert.equal(pair.chosen_quality, 0.9);
  assert.equal(pair.rejected_quality, 0.6);
  assert.equal(pair.contradiction_level, 'moderate');
  assert.deepEqual(JSON.parse(pair.prompt.arguments), { question: 'better' });
  assert.deepEqual(JSON.parse(pair.chosen), judged.better[0]);
  assert.deepEqual(JSON.parse(pair.rejected), judged.better[1]);
  assert.ok(pair.ids.chosen && pair.ids.rejected && pair.ids.chosen !== pair.ids.rejected);

  // failure_patterns: one group per (agent, tool, status, code, normalised message).
  const failures = data['failure_patterns.jsonl'];
  const byCode = (code) => failures.filter((f) => f.tool === 'fail' && f.error_code === code);
  assert.equal(byCode(-32001).length, 1, JSON.stringify(failures));
  const g1 = byCode(-32001)[0];
  assert.equal(g1.count, 3);
  assert.equal(g1.status, 'error');
  assert.equal(g1.agent_type, 'demo');
  assert.match(g1.message, /^requested failure with json-rpc code -?#$/);
  assert.deepEqual([...g1.example_input_hashes].sort(),
    [1, 2, 3].map((attempt) => sha256(canonical({ code: -32001, attempt }))).sort());
  assert.equal(g1.tool_calls, 4);
  assert.equal(g1.share, 0.75);
  assert.ok(g1.first_seen <= g1.last_seen);
  assert.equal(byCode(-32002).length, 1);
  assert.equal(byCode(-32002)[0].count, 1);
  const timeouts = failures.filter((f) => f.tool === 'slow' && f.status === 'timeout');
  assert.equal(timeouts.length, 1, JSON.stringify(failures));
  assert.equal(timeouts[0].count, 2);
  assert.match(timeouts[0].message, /did not answer within # ms/);
  // Sorted by count, largest first.
  for (let i = 1; i < failures.length; i++) assert.ok(failures[i - 1].count >= failures[i].count);

  // optimization_opportunities: the repeated inputs, and the timeout-prone tool.
  const opps = data['optimization_opportunities.jsonl'];
  const repeats = opps.filter((o) => o.kind === 'cacheable_repeat');
  const echoRepeat = repeats.find((o) => o.tool === 'echo' && o.input_hash === repeatHash);
  assert.ok(echoRepeat, JSON.stringify(opps));
  assert.equal(echoRepeat.count, 4);
  const claimRepeat = repeats.find((o) => o.tool === 'contradict' && o.input_hash === sha256(canonical({ claim: 'same claim' })));
  assert.ok(claimRepeat, JSON.stringify(opps));
  assert.equal(claimRepeat.count, 3);
  assert.ok(!repeats.some((o) => o.input_hash === sha256(canonical({ message: 'once' }))), 'one call is no repeat');
  const slowTool = opps.find((o) => o.kind === 'timeout_prone' && o.tool === 'slow');
  assert.ok(slowTool, JSON.stringify(opps));
  assert.equal(slowTool.timeouts, 2);
  assert.equal(slowTool.calls, 3);
});
