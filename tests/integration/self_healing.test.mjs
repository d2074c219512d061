// Self-healing (issue: predictive monitoring): the demo agent's `leak` makes a replica grow and
// Bastion replaces it before the memory trigger while every call succeeds; `slow` past the latency
// trigger adds a replica and idleness removes it; a `fail` storm trips the error-rate trigger and
// a real Alertmanager receives the alert through its API; the analyzer names the slow tool and the
// error pattern. Bounded loops only; each waits for an observable event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBastion, demoAgent, post, stateless, statelessHeaders, freePort } from './harness.mjs';

const MB = 1_000_000;

async function call(bastion, tool, args) {
  const r = await post(`${bastion.base}/mcp/demo`, stateless('tools/call', { name: tool, arguments: args }),
    statelessHeaders('tools/call', tool));
  return r;
}

function succeeded(r) {
  return r.status === 200 && r.json && r.json.result && r.json.result.isError !== true;
}

async function health(bastion) {
  const res = await fetch(`${bastion.admin}/healthz`);
  return res.json();
}

async function until(what, check, timeoutMs, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

test('a leaking replica is replaced before it crosses the memory trigger; calls meanwhile all succeed', async () => {
  // `demo` is supervised; `control` leaks in lockstep with restarts off, to measure when the
  // forecast crossing would really have happened.
  const limit = 300 * MB;
  const bastion = await startBastion({
    upstreams: { demo: demoAgent(), control: demoAgent() },
    monitoring: {
      sample_interval: '200ms',
      triggers: { memory: '300MB', latency: '0', error_rate: '0', window: '30s', horizon: '4s', min_samples: 5, cooldown: '3s' },
      actions: { restart_service: true, drain_grace: '5s' },
      upstreams: { control: { actions: { restart_service: false } } },
    },
  });
  const callOn = async (upstream, tool, args) => post(`${bastion.base}/mcp/${upstream}`,
    stateless('tools/call', { name: tool, arguments: args }), statelessHeaders('tools/call', tool));
  try {
    await until('both replicas sampled', async () => {
      const doc = await health(bastion);
      return ['demo', 'control'].every((u) => doc.checks[`upstream:${u}`][0].forecast?.memory.length === 1);
    }, 10000);
    let calls = 0, failures = 0, maxRss = 0;
    let forecast = null;      // the first forecast condition: when, and how far ahead
    let restartedAt = null, controlCrossedAt = null;
    let stop = false;
    const background = (async () => {  // traffic that must keep succeeding through the replacement
      while (!stop) {
        const r = await callOn('demo', 'echo', { message: 'still here' });
        calls++;
        if (!succeeded(r)) failures++;
      }
    })();
    const t0 = Date.now();
    const seconds = () => (Date.now() - t0) / 1000;
    let nextLeak = 0;
    while (seconds() < 40 && (restartedAt === null || controlCrossedAt === null)) {
      if (Date.now() >= nextLeak) {  // 3 MB every 100 ms in each, paced by the clock
        nextLeak = Math.max(nextLeak, Date.now()) + 100;
        const leaks = [];
        if (restartedAt === null) leaks.push(callOn('demo', 'leak', { mb: 3 }));
        if (controlCrossedAt === null) leaks.push(callOn('control', 'leak', { mb: 3 }));
        for (const r of await Promise.all(leaks)) {
          calls++;
          if (!succeeded(r)) failures++;
        }
      }
      const doc = await health(bastion);
      const demo = doc.checks['upstream:demo'][0];
      const control = doc.checks['upstream:control'][0];
      if (restartedAt === null) {
        for (const m of demo.forecast?.memory ?? []) maxRss = Math.max(maxRss, m.rssBytes);
        const c = (demo.conditions ?? []).find((x) => x.trigger === 'memory_forecast');
        if (c && !forecast) forecast = { at: seconds(), ahead: c.secondsToThreshold, rss: c.value };
        if ((demo.restartsByReason?.memory_forecast ?? 0) >= 1) restartedAt = seconds();
      }
      if (controlCrossedAt === null && (control.forecast?.memory?.[0]?.rssBytes ?? 0) >= limit) controlCrossedAt = seconds();
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await background;
    assert.ok(restartedAt !== null, `no forecast restart within 40 s; max RSS ${maxRss}`);
    assert.ok(forecast, 'the forecast condition was shown before the restart');
    assert.ok(maxRss < limit, `the replica reached ${maxRss} bytes, over the ${limit} trigger`);
    assert.ok(forecast.rss > limit / 4, `acted on a trend too early (${forecast.rss} bytes)`);
    assert.equal(failures, 0, `${failures} of ${calls} calls failed during the replacement`);
    assert.ok(controlCrossedAt !== null, 'the control replica crossed the trigger');
    const predicted = forecast.at + forecast.ahead;
    console.log(`leak: forecast at ${forecast.at.toFixed(1)} s (RSS ${(forecast.rss / MB).toFixed(0)} MB) said the ` +
      `${limit / MB} MB trigger is reached in ${forecast.ahead.toFixed(1)} s, i.e. at ${predicted.toFixed(1)} s; ` +
      `the unsupervised control crossed at ${controlCrossedAt.toFixed(1)} s; supervised replica replaced at ` +
      `${restartedAt.toFixed(1)} s, max RSS ${(maxRss / MB).toFixed(0)} MB; ${calls} calls, ${failures} failed`);
    assert.ok(Math.abs(predicted - controlCrossedAt) < 3, 'the forecast crossing is within 3 s of the real one');
    // The replacement serves, with little memory; the control is still there, never restarted.
    const after = await until('the new replica', async () => {
      const doc = await health(bastion);
      const m = doc.checks['upstream:demo'][0].forecast.memory;
      return m.length === 1 && m[0].rssBytes < limit / 4 ? doc : null;
    }, 10000);
    assert.equal(after.checks['upstream:demo'][0].restartsByReason.exit ?? 0, 0, 'replaced, not crashed');
    assert.equal(Object.keys(after.checks['upstream:control'][0].restartsByReason).length, 0);
    assert.ok(succeeded(await callOn('demo', 'echo', { message: 'after' })));
    const metrics = await (await fetch(`${bastion.admin}/metrics`)).text();
    assert.match(metrics, /bastion_upstream_restarts_total\{upstream="demo",reason="memory_forecast"\} 1/);
    assert.match(metrics, /bastion_supervisor_actions_total\{upstream="demo",action="restart_service",reason="memory_forecast"\} 1/);
    assert.match(metrics, /bastion_trigger_active\{upstream="control",trigger="memory"\} 1/);
  } finally {
    await bastion.stop();
  }
});

test('slow calls past the latency trigger add a replica; idleness removes it; the analyzer names the slow tool', async () => {
  const bastion = await startBastion({
    upstreams: { demo: demoAgent() },
    monitoring: {
      sample_interval: '200ms',
      triggers: { memory: '0', latency: '300ms', error_rate: '0', window: '5s', min_calls: 5, predict: false, cooldown: '1s', queue_per_replica: 100 },
      actions: { restart_service: false, scale_horizontally: { max_replicas: 2, scale_in_after: '2s' } },
    },
  });
  try {
    const slowCalls = [];
    for (let i = 0; i < 8; i++) slowCalls.push(call(bastion, 'slow', { ms: 400 }));
    for (const r of await Promise.all(slowCalls)) assert.ok(succeeded(r), JSON.stringify(r.json));
    for (let i = 0; i < 5; i++) assert.ok(succeeded(await call(bastion, 'echo', { message: 'x' })));
    await until('a second replica', async () => {
      const c = (await health(bastion)).checks['upstream:demo'][0];
      return c.observedValue === 2 ? c : null;
    }, 10000);
    let metrics = await (await fetch(`${bastion.admin}/metrics`)).text();
    assert.match(metrics, /bastion_upstream_replicas\{upstream="demo"\} 2/);
    assert.match(metrics, /bastion_supervisor_actions_total\{upstream="demo",action="scale_out",reason="latency"\} 1/);
    const analysis = await (await fetch(`${bastion.admin}/api/v1/analysis?window=5m`)).json();
    assert.equal(analysis.slowest_tool.tool, 'slow', JSON.stringify(analysis.slowest_tool));
    assert.equal(analysis.slowest_agent.upstream, 'demo');
    // Calls stop: after scale_in_after without pressure the extra replica goes.
    await until('scale in', async () => {
      const c = (await health(bastion)).checks['upstream:demo'][0];
      return c.observedValue === 1 ? c : null;
    }, 20000, 200);
    metrics = await (await fetch(`${bastion.admin}/metrics`)).text();
    assert.match(metrics, /bastion_supervisor_actions_total\{upstream="demo",action="scale_in",reason="idle"\} 1/);
    assert.ok(succeeded(await call(bastion, 'echo', { message: 'after scale in' })));
  } finally {
    await bastion.stop();
  }
});

test('a fail storm trips the error-rate trigger: a real Alertmanager receives the alert, the analyzer names the pattern', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bastion-am-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'am.yml'), 'route: {receiver: "null"}\nreceivers: [{name: "null"}]\n');
  const amPort = await freePort();
  const am = spawn('prometheus-alertmanager', [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: 'ignore' });
  const amUrl = `http://127.0.0.1:${amPort}`;
  let bastion;
  try {
    await until('alertmanager ready', async () => {
      try { return (await fetch(`${amUrl}/-/ready`)).ok; } catch { return false; }
    }, 20000);
    bastion = await startBastion({
      upstreams: { demo: demoAgent() },
      monitoring: {
        sample_interval: '200ms',
        triggers: { memory: '0', latency: '0', error_rate: '20%', window: '10s', min_calls: 10, cooldown: '30s' },
        actions: { restart_service: true, drain_grace: '2s', alert_admin: { webhook_url: `${amUrl}/api/v2/alerts`, repeat: '5s' } },
      },
    });
    for (let i = 0; i < 6; i++) assert.ok(succeeded(await call(bastion, 'echo', { message: 'ok' })));
    for (let i = 0; i < 10; i++) {
      const r = await call(bastion, 'fail', { code: -32042 });
      assert.equal(r.status, 200);
      assert.ok(r.json.error, 'a JSON-RPC error reaches the client');
    }
    const alert = await until('the alert in Alertmanager', async () => {
      const alerts = await (await fetch(`${amUrl}/api/v2/alerts`)).json();
      return alerts.find((a) => a.labels.alertname === 'BastionUpstreamErrorRate' && a.labels.upstream === 'demo');
    }, 15000, 200);
    assert.equal(alert.labels.severity, 'critical');
    assert.equal(alert.labels.source, 'bastion');
    assert.match(alert.annotations.summary, /of \d+ calls failed/);
    assert.equal(alert.status.state, 'active');
    // The alert goes out once the replacement is asked for; it is counted once the fresh replica
    // answers, which can come later on a slow machine (or under ThreadSanitizer).
    const check = await until('the replacement counted', async () => {
      const c = (await health(bastion)).checks['upstream:demo'][0];
      return c.restartsByReason?.error_rate ? c : undefined;
    }, 15000, 100);
    assert.ok(check.conditions.some((c) => c.trigger === 'error_rate'));
    assert.equal(check.restartsByReason.error_rate, 1, 'the replica was replaced once (cool-down 30 s)');
    const analysis = await (await fetch(`${bastion.admin}/api/v1/analysis?window=1m`)).json();
    const pattern = analysis.error_patterns[0];
    assert.equal(pattern.tool, 'fail');
    assert.equal(pattern.count, 10);
    assert.equal(pattern.error_code, '-32042');
    assert.ok(analysis.findings.length > 0);
    const metrics = await (await fetch(`${bastion.admin}/metrics`)).text();
    assert.match(metrics, /bastion_alerts_sent_total [1-9]/);
  } finally {
    if (bastion) await bastion.stop();
    am.kill('SIGTERM');
    await new Promise((r) => am.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
