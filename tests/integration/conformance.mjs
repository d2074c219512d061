// Runs `conformance server --requirements REVISION` against Bastion passing through to
// bastion-demo-agent, then reads every checks.json: the suite's exit code alone can hide a
// check that "passed" on a reply such as "tool not found".
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBastion, demoAgent } from './harness.mjs';

const revision = process.argv[2];
if (!['2025-11-25', '2026-07-28'].includes(revision)) {
  console.error('usage: conformance.mjs 2025-11-25|2026-07-28');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, 'node_modules/.bin');
const out = mkdtempSync(join(tmpdir(), `conformance-${revision}-`));

// Scenarios in the frozen required list for this revision.
const requirements = readFileSync(join(here, 'node_modules/@modelcontextprotocol/conformance/requirements', `${revision}.yaml`), 'utf8');
const required = new Set();
let section = '';
for (const line of requirements.split('\n')) {
  if (/^[a-z_]+:/.test(line)) section = line.replace(':', '').trim();
  const m = line.match(/^  - ([a-z0-9\-/_.]+)\s*$/);
  if (section === 'server' && m) required.add(m[1]);
}

const bastion = await startBastion({ upstreams: { demo: demoAgent() } });
let code;
try {
  // The suite insists on a localhost URL for its DNS-rebinding scenario.
  const url = bastion.base.replace('127.0.0.1', 'localhost') + '/mcp/demo';
  const child = spawn(join(bin, 'conformance'), ['server', '--url', url, '--requirements', revision, '-o', out], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
} finally {
  await bastion.stop();
}

// checks.json files live in per-scenario folders (possibly nested under a timestamp folder).
function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else if (entry.name === 'checks.json') yield p;
  }
}
const totals = { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0, SKIPPED: 0 };
const failures = [];
const seen = new Set();
for (const file of walk(out)) {
  // Folder names are "server-<scenario>-<timestamp>".
  const scenario = dirname(file).split('/').pop().replace(/-\d{4}-\d{2}-\d{2}T.*$/, '').replace(/^server-/, '');
  seen.add(scenario);
  const checks = JSON.parse(readFileSync(file, 'utf8'));
  for (const c of checks) {
    totals[c.status] = (totals[c.status] ?? 0) + 1;
    const text = `${c.errorMessage ?? ''} ${JSON.stringify(c.details ?? '')}`;
    if (c.status === 'FAILURE' || /not testable|tool not found|unknown tool/i.test(text)) {
      failures.push(`${scenario} ${c.id} ${c.status}: ${(c.errorMessage ?? c.description ?? '').slice(0, 300)}`);
    }
  }
}
console.log(`\nconformance ${revision}: exit ${code}; checks ${JSON.stringify(totals)}; scenarios with results: ${seen.size}`);
const scoredFailures = failures.filter((f) => required.has(f.split(' ')[0]));
for (const f of failures) console.log(`${required.has(f.split(' ')[0]) ? 'REQUIRED' : 'not scored'}  ${f}`);
const missing = [...required].filter((s) => !seen.has(s));
for (const s of missing) console.log(`REQUIRED  ${s}: no results written`);
console.log(`required scenarios: ${required.size}, with results: ${required.size - missing.length}, failing checks in them: ${scoredFailures.length}`);
console.log(`results in ${out}`);
process.exit(code === 0 && scoredFailures.length === 0 && missing.length === 0 ? 0 : 1);
