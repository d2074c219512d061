// Process-level behaviour of the bastion binary: CLI commands, privilege drop, scrubbed upstream
// environments, supervision of crashing upstreams, graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASTION, startBastion, demoAgent, post, stateless, statelessHeaders, childrenOf } from './harness.mjs';

// 0755: run as root, bastion drops to nobody, which must reach its data directory inside.
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bastion-proc-')); chmodSync(d, 0o755); return d; };

test('check-config: valid file exits 0, bad file exits 2 with FILE:LINE and no secret values', () => {
  const dir = tmp();
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'upstreams:\n  demo: {command: bastion-demo-agent}\n');
  let r = spawnSync(BASTION, ['check-config', '-c', good], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'limits:\n  max_body_bytes: huge\nupstreams:\n  x:\n    command: a\n    env: {API_KEY: s3cr3t-xyz}\n    replicas: lots\nsurprise: 1\n');
  r = spawnSync(BASTION, ['check-config', '-c', bad], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${bad}:2: limits.max_body_bytes`));
  assert.match(r.stderr, new RegExp(`${bad}:7: upstreams.x.replicas`));
  assert.match(r.stderr, new RegExp(`${bad}:8: unknown key 'surprise'`));
  assert.ok(!r.stderr.includes('s3cr3t-xyz'));
  r = spawnSync(BASTION, ['version'], { encoding: 'utf8' });
  assert.match(r.stdout, /^bastion \d+\.\d+\.\d+/);
});

test('bastion health URL: 0 on pass, 1 on failure (for container HEALTHCHECKs)', async () => {
  const bastion = await startBastion({ upstreams: { demo: demoAgent() } });
  try {
    let r = spawnSync(BASTION, ['health', `${bastion.admin}/healthz`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    r = spawnSync(BASTION, ['health', `${bastion.base}/healthz`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    r = spawnSync(BASTION, ['health', `${bastion.base}/nowhere`], { encoding: 'utf8' });
    assert.equal(r.status, 1);
  } finally {
    await bastion.stop();
  }
  const r = spawnSync(BASTION, ['health', 'http://127.0.0.1:9/healthz'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /health:/);
});

test('drops root to run_as before serving and hands it the data directory', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to observe the drop');
  const bastion = await startBastion({ upstreams: { demo: demoAgent() } });
  try {
    const status = readFileSync(`/proc/${bastion.proc.pid}/status`, 'utf8');
    const uids = status.match(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m).slice(1).map(Number);
    assert.ok(uids.every((u) => u !== 0), `still root: ${uids}`);
    assert.match(status, /^NoNewPrivs:\s+1/m);
    const children = childrenOf(bastion.proc.pid);
    assert.ok(children.length > 0, 'the demo agent runs as a child');
    for (const pid of children) {
      const cs = readFileSync(`/proc/${pid}/status`, 'utf8');
      assert.ok(!/^Uid:\s+0\s/m.test(cs), 'upstream processes never run as root');
    }
  } finally {
    await bastion.stop();
  }
});

test('upstream processes get a scrubbed environment', async () => {
  const dir = tmp();
  chmodSync(dir, 0o777);
  const dump = join(dir, 'env.txt');
  const script = join(dir, 'dump-env.sh');
  // Not an MCP server: it records its environment and exits; the handshake fails, which is fine.
  writeFileSync(script, `#!/bin/sh\nenv > ${dump}\nexit 0\n`);
  chmodSync(script, 0o755);
  process.env.BASTION_TEST_SECRET = 'leaked-if-you-see-this';
  const bastion = await startBastion({ upstreams: { dumper: { command: script, env: { GIVEN: 'yes' }, start_timeout: '2s' } } });
  try {
    for (let i = 0; i < 200 && !existsSync(dump); i++) await new Promise((r) => setTimeout(r, 25));
    const env = readFileSync(dump, 'utf8');
    assert.match(env, /^GIVEN=yes$/m);
    assert.match(env, /^PATH=/m);
    assert.ok(!env.includes('leaked-if-you-see-this'));
    assert.ok(!/^BASTION_/m.test(env));
  } finally {
    delete process.env.BASTION_TEST_SECRET;
    await bastion.stop();
  }
});

test('a crashing upstream fails its call clearly, is restarted, and serves again', async () => {
  const bastion = await startBastion({ upstreams: { demo: demoAgent() } });
  try {
    const call = (id, name, args) => post(`${bastion.base}/mcp/demo`,
      stateless('tools/call', { name, arguments: args }, id), statelessHeaders('tools/call', name));
    const first = await call(1, 'echo', { message: 'before' });
    assert.equal(first.json.result.content[0].text, 'before');
    // Kill the replica under a slow call: the client gets a JSON-RPC error, never a hang.
    const slow = call(2, 'slow', { ms: 5000 });
    const [pid] = childrenOf(bastion.proc.pid);
    assert.ok(pid > 0, 'the demo agent runs as a child');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    const failed = await slow;
    assert.equal(failed.json.error.code, -32003);
    let again;
    for (let i = 0; i < 100; i++) {
      again = await call(3 + i, 'echo', { message: 'after' });
      if (again.json.result) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(again.json.result.content[0].text, 'after');
    const health = await (await fetch(`${bastion.admin}/healthz`)).json();
    assert.ok(health.checks['upstream:demo'][0].restarts >= 1);
  } finally {
    await bastion.stop();
  }
});

test('per-call timeout answers -32001 and cancels upstream', async () => {
  const bastion = await startBastion({ upstreams: { demo: demoAgent({ timeout: '300ms' }) } });
  try {
    const r = await post(`${bastion.base}/mcp/demo`, stateless('tools/call', { name: 'slow', arguments: { ms: 3000 } }, 1),
      statelessHeaders('tools/call', 'slow'));
    assert.equal(r.json.error.code, -32001);
    const ok = await post(`${bastion.base}/mcp/demo`, stateless('tools/call', { name: 'echo', arguments: { message: 'x' } }, 2),
      statelessHeaders('tools/call', 'echo'));
    assert.equal(ok.json.result.content[0].text, 'x');
  } finally {
    await bastion.stop();
  }
});

test('SIGTERM lets an in-flight call finish, then exits 0 with no child left', async () => {
  const bastion = await startBastion({ shutdown_grace: '5s', upstreams: { demo: demoAgent() } });
  const children = childrenOf(bastion.proc.pid);
  assert.ok(children.length > 0);
  const inflight = post(`${bastion.base}/mcp/demo`, stateless('tools/call', { name: 'slow', arguments: { ms: 800 } }, 1),
    statelessHeaders('tools/call', 'slow'));
  await new Promise((r) => setTimeout(r, 200));
  const exited = bastion.stop('SIGTERM');
  const reply = await inflight;
  assert.ok(reply.json.result, `in-flight call finished: ${reply.text}`);
  assert.equal(await exited, 0);
  for (const pid of children) assert.ok(!existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')) === false);
});

test('--mcp-config imports Claude-Desktop style servers', async () => {
  const dir = tmp();
  chmodSync(dir, 0o755);
  const file = join(dir, 'claude.json');
  writeFileSync(file, JSON.stringify({ mcpServers: { imported: { command: process.env.BASTION_DEMO_AGENT } } }));
  chmodSync(file, 0o644);
  const r = spawnSync(BASTION, ['check-config', '-c', file], { encoding: 'utf8' });
  assert.equal(r.status, 2, 'a JSON mcpServers file is not a bastion config');
  // serve accepts it through --mcp-config; exercised through the harness's config file.
  const { spawn } = await import('node:child_process');
  const cfgDir = tmp();
  const cfg = join(cfgDir, 'b.yaml');
  writeFileSync(cfg, JSON.stringify({ listen: { public: { address: '127.0.0.1:0' }, admin: 'off' }, data_dir: join(cfgDir, 'data') }));
  const ready = join(cfgDir, 'ready.json');
  const proc = spawn(BASTION, ['serve', '-c', cfg, '--mcp-config', file, '--ready-file', ready], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(logs)), 15000);
    proc.stderr.on('data', (d) => { logs += d; if (logs.includes('bastion serving')) { clearTimeout(t); resolve(); } });
  });
  const { public: addr } = JSON.parse(readFileSync(ready, 'utf8'));
  const res = await post(`http://${addr}/mcp/imported`, stateless('tools/call', { name: 'echo', arguments: { message: 'imported' } }, 1),
    statelessHeaders('tools/call', 'echo'));
  assert.equal(res.json.result.content[0].text, 'imported');
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
});

test('SIGHUP reloads upstreams without dropping sessions; a bad file keeps the old config', async () => {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const bastion = await startBastion({ upstreams: { demo: demoAgent() } });
  try {
    // run_as must be able to re-read its configuration after dropping root.
    chmodSync(bastion.dir, 0o755);
    chmodSync(bastion.configPath, 0o644);
    const client = new Client({ name: 'reload', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${bastion.base}/mcp/demo`)));
    const config = JSON.parse(readFileSync(bastion.configPath, 'utf8'));
    config.upstreams.extra = { command: process.env.BASTION_DEMO_AGENT };
    writeFileSync(bastion.configPath, JSON.stringify(config));
    bastion.proc.kill('SIGHUP');
    for (let i = 0; i < 200 && !bastion.logs().includes('configuration reloaded'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(bastion.logs(), /upstreams added extra changed - removed - kept demo/);
    const viaNew = await post(`${bastion.base}/mcp/extra`, stateless('tools/call', { name: 'echo', arguments: { message: 'new' } }, 1),
      statelessHeaders('tools/call', 'echo'));
    assert.equal(viaNew.json.result.content[0].text, 'new');
    const kept = await client.callTool({ name: 'echo', arguments: { message: 'same session' } });
    assert.equal(kept.content[0].text, 'same session');
    writeFileSync(bastion.configPath, 'upstreams: [not, a, mapping]\n');
    bastion.proc.kill('SIGHUP');
    for (let i = 0; i < 200 && !bastion.logs().includes('reload refused'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(bastion.logs(), /reload refused/);
    const still = await client.callTool({ name: 'echo', arguments: { message: 'still' } });
    assert.equal(still.content[0].text, 'still');
    await client.close();
  } finally {
    await bastion.stop();
  }
});
