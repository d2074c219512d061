// Test harness: starts the real bastion binary on ephemeral loopback ports with a generated
// config, waits for its ready file (an event, not a sleep), and stops it by PID.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BASTION = process.env.BASTION_BIN;
export const DEMO_AGENT = process.env.BASTION_DEMO_AGENT;
export const NODE_MODULES = process.env.BASTION_NODE_MODULES ?? join(here, 'node_modules');
export const EVERYTHING = join(NODE_MODULES, '@modelcontextprotocol/server-everything/dist/index.js');

if (!BASTION || !existsSync(BASTION)) throw new Error('BASTION_BIN must point at the bastion binary');

export function everythingStdio(extra = {}) {
  return { command: process.execPath, args: [EVERYTHING, 'stdio'], sessions: 'per-client', ...extra };
}

export function demoAgent(extra = {}) {
  if (!DEMO_AGENT || !existsSync(DEMO_AGENT)) throw new Error('BASTION_DEMO_AGENT must point at bastion-demo-agent');
  return { command: DEMO_AGENT, ...extra };
}

// Starts bastion with `config` (merged over loopback/ephemeral defaults). Resolves once serving.
export async function startBastion(config, { timeoutMs = 20000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bastion-it-'));
  // Run as root, bastion drops to `nobody`, which must reach its data directory inside.
  chmodSync(dir, 0o755);
  const full = {
    listen: { public: { address: '127.0.0.1:0' }, admin: { address: '127.0.0.1:0' } },
    data_dir: join(dir, 'data'),
    log: { level: 'info', format: 'text' },
    // Protocol tests send far more than the seed's 10 requests/minute; rate-limit tests set their own zones.
    rate_limits: [],
    ...config,
  };
  const configPath = join(dir, 'bastion.yaml');
  writeFileSync(configPath, JSON.stringify(full, null, 2)); // JSON is YAML
  const readyPath = join(dir, 'ready.json');
  const proc = spawn(BASTION, ['serve', '-c', configPath, '--ready-file', readyPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  proc.stdout.on('data', (d) => { logs += d; });
  const serving = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bastion not serving after ${timeoutMs} ms:\n${logs}`)), timeoutMs);
    proc.stderr.on('data', (d) => {
      logs += d;
      if (logs.includes('bastion serving MCP')) { clearTimeout(timer); resolve(); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`bastion exited (${code}):\n${logs}`)); });
  });
  await serving;
  // The ready file is written right after the log line; read it once it is complete.
  let ready;
  for (let i = 0; i < 100 && !ready; i++) {
    try { ready = JSON.parse(readFileSync(readyPath, 'utf8')); } catch { await new Promise((r) => setImmediate(r)); }
  }
  if (!ready) throw new Error('ready file missing');
  const base = `http://${ready.public}`;
  return {
    proc, dir, configPath,
    base,
    admin: ready.admin ? `http://${ready.admin}` : undefined,
    logs: () => logs,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig)));
      proc.kill(signal);
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const result = await exited;
      clearTimeout(killTimer);
      rmSync(dir, { recursive: true, force: true });
      // A clean shutdown is part of every test: a crash or sanitizer report while stopping fails it.
      if (signal === 'SIGTERM' && result !== 0) {
        throw new Error(`bastion did not exit cleanly on SIGTERM (${result}):\n${logs.slice(-4000)}`);
      }
      return result;
    },
  };
}

export const JSON_AND_SSE = 'application/json, text/event-stream';

// Raw POST helper for protocol-level tests.
export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: JSON_AND_SSE, ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// Parses an SSE body into the JSON messages of its data lines.
export function sseMessages(text) {
  return text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6).map((l) => JSON.parse(l.slice(6)));
}

export function stateless(method, params = {}, id = 1, caps = {}) {
  return {
    jsonrpc: '2.0', id, method,
    params: {
      ...params,
      _meta: {
        ...(params._meta ?? {}),
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': caps,
        'io.modelcontextprotocol/clientInfo': { name: 'bastion-tests', version: '1' },
      },
    },
  };
}

export function statelessHeaders(method, name) {
  const h = { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method };
  if (name !== undefined) h['Mcp-Name'] = name;
  return h;
}

// A free loopback port (the kernel picks it; a tiny race with other processes is acceptable here).
export async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// Starts server-everything over HTTP ('streamableHttp' or legacy 'sse'), bound to loopback.
export async function startEverythingHttp(mode = 'streamableHttp') {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', join(here, 'loopback-only.mjs'), EVERYTHING, mode], {
    env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything ${mode} did not start:\n${logs}`)), 20000);
    const onData = (d) => { logs += d; if (/listening|running/i.test(logs)) { clearTimeout(timer); resolve(); } };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (c) => { clearTimeout(timer); reject(new Error(`server-everything exited ${c}:\n${logs}`)); });
  });
  return {
    port, proc, logs: () => logs,
    url: `http://127.0.0.1:${port}${mode === 'sse' ? '/sse' : '/mcp'}`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

// Every child process of `pid` (children are listed per thread that forked them).
export function childrenOf(pid) {
  const { readdirSync: ls, readFileSync: read } = require_fs();
  const out = [];
  for (const tid of ls(`/proc/${pid}/task`)) {
    try {
      for (const c of read(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (c) out.push(Number(c));
      }
    } catch { /* the thread ended meanwhile */ }
  }
  return out.filter((n) => n > 0);
}
function require_fs() { return { readdirSync, readFileSync }; }
