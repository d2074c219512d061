// Fault injection with real processes on loopback: stdio upstreams that flood, babble, stall,
// close their pipes or crash-loop; HTTP upstreams that refuse, reset, stall or break their SSE;
// the knowledge base's spool on a full disk; SIGTERM and SIGHUP under load. Each time the client
// gets a success or a specific JSON-RPC error, Bastion keeps serving, and the upstream recovers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBastion, demoAgent, post, sseMessages, stateless, statelessHeaders, childrenOf, freePort } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FAULT_AGENT = join(here, 'fixtures/fault_agent.mjs');
const faultAgent = (extra = {}, args = []) => ({ command: process.execPath, args: [FAULT_AGENT, ...args], ...extra });

// 0755 (0777 when nobody must write into it): run as root, bastion drops to nobody.
function scratch(mode = 0o755) {
  const d = mkdtempSync(join(tmpdir(), 'bastion-faults-'));
  chmodSync(d, mode);
  return d;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `probe` until it returns a truthy value or `ms` pass (bounded); returns the value.
async function until(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

// Waits for a log line: it travels on Bastion's stderr, which may reach us after the HTTP reply.
async function logged(b, pattern) {
  await until(() => pattern.test(b.logs()), 5000, `a log line matching ${pattern}`);
}

let nextId = 1;
// One stateless tools/call; the JSON-RPC reply whether it came as JSON or as an SSE stream.
async function callTool(base, upstream, name, args = {}) {
  const id = nextId++;
  const started = Date.now();
  const res = await post(`${base}/mcp/${upstream}`, stateless('tools/call', { name, arguments: args }, id),
    statelessHeaders('tools/call', name));
  let reply = res.json;
  if (!reply && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    reply = sseMessages(res.text).find((m) => m.id === id);
  }
  return { status: res.status, reply, text: res.text, ms: Date.now() - started };
}

function assertError(r, code, pattern) {
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.ok(r.reply?.error, `expected a JSON-RPC error, got ${r.text.slice(0, 300)}`);
  assert.equal(r.reply.error.code, code, r.reply.error.message);
  assert.match(r.reply.error.message, pattern);
}

function assertText(r, text) {
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.reply?.result?.content?.[0]?.text, text, r.text.slice(0, 300));
}

// Calls the healthy `demo` upstream back to back until stopped: Bastion keeps serving others.
function heartbeat(base) {
  let running = true;
  const stats = { ok: 0, failed: [] };
  const done = (async () => {
    while (running) {
      const r = await callTool(base, 'demo', 'echo', { message: 'beat' }).catch((e) => ({ error: String(e) }));
      if (r.reply?.result?.content?.[0]?.text === 'beat') stats.ok++;
      else stats.failed.push(r.error ?? r.text);
      await sleep(10);
    }
  })();
  return { async stop() { running = false; await done; return stats; } };
}

// The end of a fault run: stop the heartbeat, print what happened, check Bastion outlived it all.
async function finishFaultRun(b, beat, report) {
  const stats = await beat.stop();
  report.push(`meanwhile ${stats.ok} calls to another upstream succeeded, ${stats.failed.length} failed`);
  console.log(report.map((l) => `# ${l}`).join('\n'));
  assert.ok(b.alive(), 'bastion is still running');
  await b.stop();
  return stats;
}

async function health(admin) {
  return (await fetch(`${admin}/healthz`)).json();
}

async function metric(admin, name) {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

// utime + stime of a process, in clock ticks.
function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

// Calls `name` on `upstream` until it answers `text` (bounded); returns how long that took.
async function recovery(base, upstream, ms = 20000) {
  const t0 = Date.now();
  await until(async () => {
    const r = await callTool(base, upstream, 'echo', { message: 'back' });
    return r.reply?.result?.content?.[0]?.text === 'back';
  }, ms, `${upstream} to answer again`);
  return Date.now() - t0;
}

test('stdio upstream faults: each call gets a result or a clear error, others keep being served, the upstream recovers', async () => {
  const b = await startBastion({
    upstreams: {
      demo: demoAgent(),
      faulty: faultAgent({ timeout: '3s' }),
      mute: faultAgent({ timeout: '20s' }),
      deaf: faultAgent({ timeout: '20s' }),
    },
  });
  const beat = heartbeat(b.base);
  const report = [];
  try {
    // Megabytes of notifications ahead of the answer: all framed, the answer arrives.
    let r = await callTool(b.base, 'faulty', 'flood', { count: 8192 });
    assertText(r, 'after the flood');
    report.push(`flood 8 MiB of notifications: result in ${r.ms} ms`);

    // A line beyond the 16 MiB framing cap is dropped (and logged); the answer after it arrives.
    r = await callTool(b.base, 'faulty', 'giant_junk');
    assertText(r, 'after the giant line');
    await logged(b, /\[upstream faulty\] stdout line over 16777216 bytes discarded/);
    report.push(`17 MiB junk line: result in ${r.ms} ms`);

    // An answer beyond the cap cannot be delivered: recognised by the id at its start, the call
    // fails at once rather than at the timeout.
    r = await callTool(b.base, 'faulty', 'giant_reply');
    assertError(r, -32603, /upstream 'faulty' sent a reply over 16777216 bytes \(the stdio line limit\); it was discarded/);
    assert.ok(r.ms < 3000, `answered after ${r.ms} ms`);
    report.push(`17 MiB reply: error ${r.reply.error.code} in ${r.ms} ms`);

    // Non-JSON, binary, truncated and non-JSON-RPC lines are skipped (and logged).
    r = await callTool(b.base, 'faulty', 'garbage');
    assertText(r, 'after the garbage');
    await logged(b, /\[upstream faulty\] ignored a stdout line that is not JSON-RPC/);
    report.push(`garbage lines: result in ${r.ms} ms`);

    // One line written in three pieces with pauses: reassembled.
    r = await callTool(b.base, 'faulty', 'partial');
    assertText(r, 'assembled');
    report.push(`partial line: result in ${r.ms} ms`);

    // An answer under an id nobody asked for is dropped: the client gets the timeout error.
    r = await callTool(b.base, 'faulty', 'wrong_id');
    assertError(r, -32001, /upstream 'faulty' did not answer within 3000 ms/);
    report.push(`wrong id: error ${r.reply.error.code} in ${r.ms} ms`);

    // The same answer twice: the first wins, the second reaches nobody else.
    r = await callTool(b.base, 'faulty', 'duplicate');
    assertText(r, 'first');
    const [a, c] = await Promise.all([callTool(b.base, 'faulty', 'echo', { message: 'a' }),
      callTool(b.base, 'faulty', 'echo', { message: 'c' })]);
    assertText(a, 'a');
    assertText(c, 'c');
    report.push(`duplicate answer: result in ${r.ms} ms, next calls unaffected`);
    // None of these faults cost the process: the same replica still serves.
    assert.equal((await health(b.admin)).checks['upstream:faulty'][0].restarts, 0);

    // The upstream closes stdout but keeps running: it is stopped and restarted.
    r = await callTool(b.base, 'mute', 'close_stdout');
    assertError(r, -32003, /upstream unavailable: process exited/);
    await logged(b, /\[upstream mute\] pid \d+ closed its stdout/);
    report.push(`closed stdout: error ${r.reply.error.code} in ${r.ms} ms, recovered in ${await recovery(b.base, 'mute')} ms`);

    // The upstream closes stdin but keeps running: the call it answered succeeds, the next one
    // fails clearly, then it is restarted.
    r = await callTool(b.base, 'deaf', 'close_stdin');
    assertText(r, 'stdin closing');
    r = await callTool(b.base, 'deaf', 'echo', { message: 'into the void' });
    assertError(r, -32003, /unavailable/);
    report.push(`closed stdin: next call error ${r.reply.error.code} in ${r.ms} ms, recovered in ${await recovery(b.base, 'deaf')} ms`);
  } finally {
    const stats = await finishFaultRun(b, beat, report);
    assert.deepEqual(stats.failed, []);
    assert.ok(stats.ok > 10, `heartbeat calls: ${stats.ok}`);
  }
});

test('a stdio upstream that crash-loops at start-up: backed off, reported down, answered clearly, no busy loop; one that stops crashing recovers', async () => {
  const state = scratch(0o777);
  const b = await startBastion({
    upstreams: {
      demo: demoAgent(),
      // Exits at start-up forever: after five restarts in a minute it is held down for 30 s.
      looping: faultAgent({}, ['--crash-first', '1000000', '--state', join(state, 'looping')]),
      // Exits at its first three starts, then serves.
      flaky: faultAgent({}, ['--crash-first', '3', '--state', join(state, 'flaky')]),
    },
  });
  try {
    const t0 = Date.now();
    // While down: a clear error naming the upstream, and /healthz says which one.
    const down = await callTool(b.base, 'looping', 'echo', { message: 'x' });
    assertError(down, -32003, /upstream 'looping' is unavailable/);
    let doc = await health(b.admin);
    assert.equal(doc.checks['upstream:looping'][0].status, 'fail');
    assert.equal(doc.status, 'warn', 'one upstream down of several');

    // flaky: 200 + 400 + 800 ms of backoff (minus jitter), then it serves.
    const recovered = await recovery(b.base, 'flaky', 15000);
    doc = await health(b.admin);
    assert.equal(doc.checks['upstream:flaky'][0].status, 'pass');
    assert.equal(doc.checks['upstream:flaky'][0].restarts, 3);
    console.log(`# flaky upstream (3 crashes at start-up) serving ${Date.now() - t0} ms after start (polled ${recovered} ms)`);

    // looping: the sixth exit inside a minute is a crash loop, held down for 30 s.
    await until(() => /\[upstream looping\] replica 0 is crash-looping; next attempt in 30s/.test(b.logs()), 20000, 'the crash-loop hold');
    const restarts = (await health(b.admin)).checks['upstream:looping'][0].restarts;
    assert.equal(restarts, 6);
    // Held down: no more restarts and almost no CPU for a second (a busy loop would burn it all).
    const ticks0 = cpuTicks(b.proc.pid);
    const w0 = Date.now();
    await sleep(1000);
    const cpuMs = ((cpuTicks(b.proc.pid) - ticks0) * 1000) / 100;
    const wallMs = Date.now() - w0;
    doc = await health(b.admin);
    assert.equal(doc.checks['upstream:looping'][0].restarts, restarts, 'no restart during the hold');
    assert.equal(doc.checks['upstream:looping'][0].status, 'fail');
    assert.ok(cpuMs < wallMs * 0.2, `bastion used ${cpuMs} ms of CPU in ${wallMs} ms while holding a crash loop`);
    const still = await callTool(b.base, 'looping', 'echo', { message: 'x' });
    assertError(still, -32003, /upstream 'looping' is unavailable/);
    assertText(await callTool(b.base, 'demo', 'echo', { message: 'fine' }), 'fine');
    console.log(`# crash loop: 6 restarts then held; bastion CPU ${cpuMs} ms over ${wallMs} ms; calls answered ${still.reply.error.code} in ${still.ms} ms`);
  } finally {
    await b.stop();
    rmSync(state, { recursive: true, force: true });
  }
});

// A Streamable HTTP MCP server (2025-11-25, JSON replies, no sessions) whose tools/call misbehaves
// by tool name. Closable and restartable on the same port.
function faultyHttpUpstream(port) {
  const sockets = new Set();
  const stalled = new Set();
  const handle = (req, res, body) => {
    let m;
    try { m = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
    if (req.method === 'GET') { res.writeHead(405).end(); return; }
    if (m.id === undefined) { res.writeHead(202).end(); return; }
    const json = (message) => { res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(message)); };
    const result = (r) => ({ jsonrpc: '2.0', id: m.id, result: r });
    if (m.method === 'initialize') {
      return json(result({ protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'faulty-http', version: '1' } }));
    }
    if (m.method !== 'tools/call') return json({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
    const text = (t) => result({ content: [{ type: 'text', text: t }] });
    switch (m.params?.name) {
      case 'echo':
        return json(text(String(m.params.arguments?.message ?? '')));
      case 'reset': {
        // Headers and half a body, then a TCP reset.
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
        res.write('{"jsonrpc":"2.0","id":');
        return setTimeout(() => req.socket.resetAndDestroy(), 50);
      }
      case 'stall':
        // Never sends a header; the test ends the connection.
        stalled.add(res);
        return undefined;
      case 'sse_garbage': {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(': a comment\n\n');
        res.write('data: not json at all\n\n');
        res.write('event: weird\ndata: {"x":1}\n\n');
        res.write('garbage line without a field separator\n');
        res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}\n\n');
        res.write(`event: message\ndata: ${JSON.stringify(text('through the noise'))}\n\n`);
        return res.end();
      }
      case 'sse_cut':
        // The stream ends (without event ids, so it cannot be resumed) before the response.
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"partial"}}\n\n');
        return res.end();
      case 'sse_torn':
        // The response event is cut mid-line by a reset.
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify(text('never whole')).slice(0, 20)}`);
        return setTimeout(() => req.socket.resetAndDestroy(), 50);
      default:
        return json({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'unknown tool' } });
    }
  };
  let server;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async start() {
      server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => handle(req, res, body));
      });
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
      await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
    },
    async stop() {
      for (const res of stalled) res.destroy();
      stalled.clear();
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

test('HTTP upstream faults: refused, reset, stalled headers, broken SSE each give a clear error; the upstream recovers', async () => {
  const upstream = faultyHttpUpstream(await freePort());
  await upstream.start();
  const b = await startBastion({ upstreams: { demo: demoAgent(), web: { url: upstream.url, timeout: '1500ms' } } });
  const beat = heartbeat(b.base);
  const report = [];
  try {
    assertText(await callTool(b.base, 'web', 'echo', { message: 'hello' }), 'hello');

    // Reset after the headers and half a body.
    let r = await callTool(b.base, 'web', 'reset');
    assertError(r, -32003, /upstream HTTP error: /);
    report.push(`reset mid-response: ${r.reply.error.code} "${r.reply.error.message}" in ${r.ms} ms`);
    assertText(await callTool(b.base, 'web', 'echo', { message: 'after reset' }), 'after reset');

    // No header within the call timeout.
    r = await callTool(b.base, 'web', 'stall');
    assert.ok(r.reply?.error, r.text);
    // Two deadlines of the same length race: the gateway's call timer (-32001) and the HTTP
    // client's request deadline (-32003); both are specific and say why.
    assert.ok([-32001, -32003].includes(r.reply.error.code), JSON.stringify(r.reply.error));
    assert.match(r.reply.error.message, /did not answer within 1500 ms|upstream HTTP error: .*(timeout|timed out)/i);
    assert.ok(r.ms >= 1400 && r.ms < 5000, `answered after ${r.ms} ms`);
    report.push(`stalled headers: ${r.reply.error.code} "${r.reply.error.message}" in ${r.ms} ms`);
    assertText(await callTool(b.base, 'web', 'echo', { message: 'after stall' }), 'after stall');

    // SSE with comments, non-JSON data, unknown events and a stray line around the response.
    r = await callTool(b.base, 'web', 'sse_garbage');
    assertText(r, 'through the noise');
    report.push(`garbage SSE lines: result in ${r.ms} ms`);

    // SSE that ends before the response and cannot be resumed.
    r = await callTool(b.base, 'web', 'sse_cut');
    assertError(r, -32003, /upstream HTTP error: upstream SSE reply ended before the response/);
    report.push(`SSE cut before the response: ${r.reply.error.code} "${r.reply.error.message}" in ${r.ms} ms`);

    // SSE whose response event is torn by a reset.
    r = await callTool(b.base, 'web', 'sse_torn');
    assertError(r, -32003, /upstream HTTP error: /);
    report.push(`SSE torn by a reset: ${r.reply.error.code} "${r.reply.error.message}" in ${r.ms} ms`);
    assertText(await callTool(b.base, 'web', 'echo', { message: 'after sse' }), 'after sse');

    // The server goes away: connection refused, then it comes back on the same port.
    await upstream.stop();
    r = await callTool(b.base, 'web', 'echo', { message: 'nobody home' });
    assertError(r, -32003, /upstream HTTP error: .*[Cc]onnection refused/);
    report.push(`connection refused: ${r.reply.error.code} "${r.reply.error.message}" in ${r.ms} ms`);
    await upstream.start();
    const t0 = Date.now();
    await until(async () => (await callTool(b.base, 'web', 'echo', { message: 'back' })).reply?.result, 10000, 'the HTTP upstream to serve again');
    report.push(`HTTP upstream restarted: serving again after ${Date.now() - t0} ms`);
  } finally {
    const stats = await finishFaultRun(b, beat, report);
    await upstream.stop().catch(() => {});
    assert.deepEqual(stats.failed, []);
  }
});

// Fills the file system under `dir` with one file until ENOSPC; returns its path.
function fillDisk(dir) {
  const file = join(dir, 'filler');
  const chunk = Buffer.alloc(4096, 1);
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < 1 << 20; i++) writeSync(fd, chunk);  // bounded: 4 GiB, far past the tmpfs
    throw new Error('the tmpfs never filled');
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return file;
}

test('the spool on a full disk while the database is down: calls answered, drops counted and logged, health fails, spooling resumes after space is freed', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to mount a small tmpfs');
  const dir = scratch();
  const mnt = join(dir, 'spool-fs');
  mkdirSync(mnt);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0777', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mounted.status !== 0) return t.skip(`cannot mount a tmpfs here: ${mounted.stderr.trim()}`);
  let b;
  try {
    // PostgreSQL on a port where nothing listens: every record goes to the spool.
    const closed = await freePort();
    b = await startBastion({
      upstreams: { demo: demoAgent() },
      store: { url: `postgres://bastion@127.0.0.1:${closed}/bastion`, spool_dir: join(mnt, 'spool'), flush_interval: '20ms', batch: 1 },
    });
    const echo = async (i) => {
      const r = await callTool(b.base, 'demo', 'echo', { message: `row ${i}` });
      assertText(r, `row ${i}`);
    };
    for (let i = 0; i < 5; i++) await echo(i);
    await until(async () => (await metric(b.admin, 'bastion_recorder_spooled_total')) >= 5, 10000, 'five spooled rows');
    let db = (await health(b.admin)).checks.database[0];
    assert.equal(db.status, 'warn', 'store down, spooling');
    assert.equal(db.storeUp, false);
    assert.equal(await metric(b.admin, 'bastion_recorder_dropped_total'), 0);

    // Disk full: every call is still answered; the rows that cannot be spooled are counted.
    const filler = fillDisk(mnt);
    for (let i = 0; i < 20; i++) await echo(100 + i);
    const dropped = await until(async () => {
      const n = await metric(b.admin, 'bastion_recorder_dropped_total');
      return n > 0 ? n : undefined;
    }, 10000, 'dropped records');
    await logged(b, /recorder: dropped \d+ record\(s\): spool: cannot write .*No space left on device/);
    const doc = await health(b.admin);
    db = doc.checks.database[0];
    // Records are being lost and the store is down: the knowledge base fails (admin 503), while
    // the public health check and MCP keep answering.
    assert.equal(db.status, 'fail');
    assert.equal(doc.status, 'fail');
    assert.match(db.output, /No space left on device/);
    assert.equal((await fetch(`${b.admin}/healthz`)).status, 503);
    assert.equal((await fetch(`${b.base}/healthz`)).status, 200);
    const spooledFull = await metric(b.admin, 'bastion_recorder_spooled_total');

    // Space again: the next rows are spooled, nothing more is dropped, health back to warn.
    rmSync(filler);
    for (let i = 0; i < 5; i++) await echo(200 + i);
    await until(async () => (await metric(b.admin, 'bastion_recorder_spooled_total')) >= spooledFull + 5, 10000, 'spooling to resume');
    const droppedAfter = await metric(b.admin, 'bastion_recorder_dropped_total');
    db = (await health(b.admin)).checks.database[0];
    assert.equal(db.status, 'warn', JSON.stringify(db));
    assert.ok(b.alive());
    console.log(`# disk full: ${dropped} record(s) dropped (${droppedAfter} in all), calls all answered; ` +
      `spooled ${spooledFull} before freeing space, ${await metric(b.admin, 'bastion_recorder_spooled_total')} after`);
    assert.equal(await b.stop(), 0);
  } finally {
    if (b?.alive()) await b.stop('SIGKILL');
    const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
    if (u.status !== 0) spawnSync('umount', ['-l', mnt]);
    rmSync(dir, { recursive: true, force: true });
  }
});

// N clients, each on its own keep-alive connection, calling back to back (every other call a slow
// one) until stopped or refused. A request counts as sent before `mark()` once all its bytes were
// handed to the kernel ('finish') before mark() was called.
function load(base, { clients = 16, slowMs = 300, upstream = 'demo' } = {}) {
  const results = [];
  let marked = false;
  let running = true;
  const one = (agent, c, seq) => new Promise((resolve) => {
    const slow = seq % 2 === 1;
    const name = slow ? 'slow' : 'echo';
    const message = `c${c}-${seq}`;
    const body = JSON.stringify(stateless('tools/call', { name, arguments: slow ? { ms: slowMs } : { message } }, seq));
    const entry = { c, seq, name, message, before: false };
    const req = http.request(`${base}/mcp/${upstream}`, {
      method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...statelessHeaders('tools/call', name) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let reply;
        try { reply = JSON.parse(text); } catch { reply = sseMessages(text).find((m) => m.id === seq); }
        const ok = res.statusCode === 200 && reply?.result && !reply.result.isError &&
          (slow || reply.result.content?.[0]?.text === message);
        results.push({ ...entry, outcome: ok ? 'ok' : `http ${res.statusCode}`, detail: text.slice(0, 200) });
        resolve(ok);
      });
      res.on('error', (e) => { results.push({ ...entry, outcome: e.code ?? String(e), detail: String(e) }); resolve(false); });
    });
    req.on('finish', () => { entry.before = !marked; });
    req.on('error', (e) => { results.push({ ...entry, outcome: e.code ?? String(e), detail: String(e) }); resolve(false); });
    req.end(body);
  });
  const loops = [];
  for (let c = 0; c < clients; c++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    loops.push((async () => {
      // A failed call ends this client once draining started (its connection is gone for good).
      for (let seq = 1; running; seq++) {
        if (!(await one(agent, c, seq)) && marked) break;
      }
      agent.destroy();
    })());
  }
  return {
    results,
    mark() { marked = true; },
    okCount: () => results.filter((r) => r.outcome === 'ok').length,
    async stop() { running = false; await Promise.all(loops); return results; },
  };
}

function sqlCount(db, query) {
  return Number(execFileSync('sqlite3', ['-readonly', db, query], { encoding: 'utf8' }).trim());
}

test('SIGTERM under load: every request sent before the signal succeeds, later ones are refused cleanly, exit 0, no child left, every acknowledged call is a row', async () => {
  const dir = scratch();
  const dataDir = join(dir, 'data');
  const b = await startBastion({ upstreams: { demo: demoAgent() }, data_dir: dataDir, shutdown_grace: '10s',
    store: { flush_interval: '50ms' } });
  const children = childrenOf(b.proc.pid);
  assert.ok(children.length > 0, 'the demo agent runs as a child');
  const traffic = load(b.base, { clients: 16, slowMs: 300 });
  try {
    // Under way: every client has finished a slow call and an echo.
    await until(() => new Set(traffic.results.filter((r) => r.outcome === 'ok' && r.seq >= 2).map((r) => r.c)).size === 16,
      20000, 'every client to complete two calls');
    const exited = new Promise((resolve) => b.proc.once('close', (code, sig) => resolve(code ?? sig)));
    traffic.mark();
    const t0 = Date.now();
    b.proc.kill('SIGTERM');
    const code = await exited;
    const drainMs = Date.now() - t0;
    const results = await traffic.stop();
    assert.equal(code, 0, b.logs().slice(-3000));

    const before = results.filter((r) => r.before);
    const after = results.filter((r) => !r.before);
    const failedBefore = before.filter((r) => r.outcome !== 'ok');
    assert.deepEqual(failedBefore, [], 'requests sent before SIGTERM all succeed');
    // In flight at the signal: slow calls sent before it that were still running.
    const slowBefore = before.filter((r) => r.name === 'slow').length;
    // After the signal: served while the connection lasts, then refused at the TCP level
    // (the listener is closed: ECONNREFUSED; an idle keep-alive connection is closed: ECONNRESET).
    const refused = after.filter((r) => r.outcome !== 'ok');
    for (const r of refused) assert.ok(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(r.outcome), JSON.stringify(r));
    assert.ok(b.logs().includes('shutting down: draining'));
    assert.ok(!/connection ended by an unexpected error/.test(b.logs()));

    // No child left behind.
    await until(() => children.every((pid) => !existsSync(`/proc/${pid}`)), 5000, 'the upstream processes to be gone');

    // Every acknowledged call is a row.
    const acknowledged = results.filter((r) => r.outcome === 'ok').length;
    const rows = sqlCount(join(dataDir, 'interactions.db'), "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call' AND status = 'ok'");
    assert.equal(rows, acknowledged);
    console.log(`# SIGTERM under 16 clients: ${before.length} sent before (${slowBefore} slow), all ok; ${after.length} after: ` +
      `${after.length - refused.length} ok, refused ${JSON.stringify(Object.fromEntries([...new Set(refused.map((r) => r.outcome))].map((o) => [o, refused.filter((r) => r.outcome === o).length])))}; ` +
      `exit 0 after ${drainMs} ms; rows ${rows} = acknowledged ${acknowledged}`);
  } finally {
    await traffic.stop();
    if (b.alive()) await b.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP under load: reloads that add, change and remove upstreams (the loaded one included) fail no call; sessions continue', async () => {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const b = await startBastion({ upstreams: { demo: demoAgent() } });
  // run_as must be able to re-read its configuration after dropping root.
  chmodSync(b.dir, 0o755);
  chmodSync(b.configPath, 0o644);
  const client = new Client({ name: 'reload-session', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${b.base}/mcp/demo`)));
  const traffic = load(b.base, { clients: 16, slowMs: 300 });
  const reloads = [];
  try {
    await until(() => traffic.okCount() >= 32, 20000, 'load to be under way');
    const config = JSON.parse(readFileSync(b.configPath, 'utf8'));
    const steps = [
      ['add an upstream', (c) => { c.upstreams.extra = demoAgent(); }],
      ['nothing changed', () => {}],
      // The upstream under load gets a new process: in-flight calls finish on the old one.
      ['change the loaded upstream', (c) => { c.upstreams.demo = demoAgent({ timeout: '20s' }); }],
      ['change the added upstream', (c) => { c.upstreams.extra = demoAgent({ timeout: '15s' }); }],
      ['remove the added upstream', (c) => { delete c.upstreams.extra; }],
    ];
    for (const [what, edit] of steps) {
      edit(config);
      writeFileSync(b.configPath, JSON.stringify(config));
      const count = (b.logs().match(/configuration reloaded/g) ?? []).length;
      const okBefore = traffic.okCount();
      const t0 = Date.now();
      b.proc.kill('SIGHUP');
      await until(() => (b.logs().match(/configuration reloaded/g) ?? []).length > count, 20000, `reload (${what})`);
      reloads.push(`${what}: ${Date.now() - t0} ms`);
      if (config.upstreams.extra) {
        assertText(await callTool(b.base, 'extra', 'echo', { message: 'extra' }), 'extra');
      }
      const kept = await client.callTool({ name: 'echo', arguments: { message: 'same session' } });
      assert.equal(kept.content[0].text, 'same session');
      // Calls keep completing between reloads.
      await until(() => traffic.okCount() >= okBefore + 16, 20000, 'calls after the reload');
    }
    await logged(b, /upstreams added - changed demo removed - kept extra/);
    const results = await traffic.stop();
    const failed = results.filter((r) => r.outcome !== 'ok');
    assert.deepEqual(failed, [], 'no call failed across the reloads');
    console.log(`# SIGHUP under 16 clients: ${results.length} calls, 0 failed; reloads: ${reloads.join('; ')}`);
    assert.ok(b.alive());
  } finally {
    await traffic.stop();
    await client.close().catch(() => {});
    await b.stop();
  }
});

// Splits raw HTTP/1.1 responses with Content-Length bodies.
function parseResponses(raw) {
  const out = [];
  let rest = raw;
  for (let i = 0; i < 10 && rest.length > 0; i++) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

test('SIGTERM with a request in flight: its reply says Connection: close and a request pipelined behind it is not processed (RFC 9112 9.6)', async () => {
  const net = await import('node:net');
  const dir = scratch();
  const dataDir = join(dir, 'data');
  const b = await startBastion({ upstreams: { demo: demoAgent() }, data_dir: dataDir, shutdown_grace: '10s',
    store: { flush_interval: '50ms' } });
  const { hostname: host, port } = new URL(b.base);
  const request = (id, name, args) => {
    const body = JSON.stringify(stateless('tools/call', { name, arguments: args }, id));
    const h = statelessHeaders('tools/call', name);
    return `POST /mcp/demo HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: ${h['MCP-Protocol-Version']}\r\n` +
      `Mcp-Method: ${h['Mcp-Method']}\r\nMcp-Name: ${h['Mcp-Name']}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const socket = net.connect(Number(port), host);
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => { raw += d; });
  const ended = new Promise((resolve) => socket.on('close', resolve));
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    // Both requests in one write: the second waits in Bastion's buffer behind the first.
    socket.write(request(1, 'slow', { ms: 600 }) + request(2, 'echo', { message: 'pipelined' }));
    await until(async () => (await health(b.admin)).checks['upstream:demo'][0].inFlight === 1, 5000, 'the slow call in flight');
    const exited = new Promise((resolve) => b.proc.once('close', (code) => resolve(code)));
    b.proc.kill('SIGTERM');
    await ended;
    assert.equal(await exited, 0);
    // The in-flight call completes; its reply closes the connection, so the client knows the
    // pipelined request was not processed and may send it again elsewhere.
    const responses = parseResponses(raw);
    assert.equal(responses.length, 1, raw);
    assert.equal(responses[0].status, 200);
    assert.equal(JSON.parse(responses[0].body).result.structuredContent.sleptMs, 600);
    assert.equal(responses[0].headers.connection, 'close', 'a reply written while draining ends the connection');
    const rows = sqlCount(join(dataDir, 'interactions.db'), "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call'");
    assert.equal(rows, 1, 'only the in-flight call was processed');
  } finally {
    socket.destroy();
    if (b.alive()) await b.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
