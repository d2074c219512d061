// Rate-limit accuracy over a real minute: a steady 2 requests/s against the seed zone
// (10r/m, burst 5, nodelay) enforced on one gateway and in shadow mode on another. The enforced
// count must match nginx's limit_req (GCRA) computed from the actual send times; the shadow zone
// lets everything through and logs one "would be limited" line per request the other rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBastion, demoAgent, post } from './harness.mjs';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
const PERIOD_MS = 500;
const SENDS = 123; // t = 0 .. 61 s

// nginx limit_req as GCRA: interval T = 60/10 s, capacity (burst + 1) * T; a rejection leaves
// the state unchanged. Returns the number admitted for arrivals at `times` (ms).
function expectedAdmitted(times, { perMinute = 10, burst = 5 } = {}) {
  const T = 60000 / perMinute;
  let tat = -Infinity;
  let admitted = 0;
  for (const now of times) {
    const next = Math.max(tat, now) + T;
    if (next - now <= (burst + 1) * T) { tat = next; admitted++; }
  }
  return admitted;
}

test('10r/m burst 5 over 61 s: enforced admits the GCRA count, shadow admits all and logs the rest', { timeout: 110000 }, async () => {
  const zone = { match: '/mcp', key: 'ip', rate: '10r/m', burst: 5, nodelay: true };
  const enforced = await startBastion({ upstreams: { demo: demoAgent() }, rate_limits: [{ name: 'minute_enforced', ...zone }] });
  const shadow = await startBastion({ upstreams: { demo: demoAgent() },
    rate_limits: [{ name: 'minute_shadow', ...zone, enforce: false }] });
  try {
    const start = performance.now();
    const sendTimes = [];
    const results = [];
    for (let k = 0; k < SENDS; k++) {
      // Pacing on an absolute schedule (no drift); this sleep is the load's shape, not a sync.
      const wait = start + k * PERIOD_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now() - start;
      sendTimes.push(sent);
      results.push(Promise.all([post(`${enforced.base}/mcp`, INIT), post(`${shadow.base}/mcp`, INIT)]));
    }
    const replies = await Promise.all(results);
    const elapsed = (performance.now() - start) / 1000;

    const enforcedStatuses = replies.map(([e]) => e.status);
    const admitted = enforcedStatuses.filter((s) => s === 200).length;
    const rejected = enforcedStatuses.filter((s) => s === 429).length;
    assert.equal(admitted + rejected, SENDS, `only 200 or 429 expected: ${enforcedStatuses}`);
    const expected = expectedAdmitted(sendTimes);
    // Exact in theory; ±1 for a request that lands on a 6 s boundary with a few ms of jitter.
    assert.ok(Math.abs(admitted - expected) <= 1, `enforced admitted ${admitted}, GCRA expects ${expected}`);
    assert.ok(admitted >= 15 && admitted <= 17, `6 burst + 10 in 60 s: ${admitted}`);
    // The first 6 at once, then one every 6 s (every 12th request): the pattern, not just the sum.
    assert.deepEqual(enforcedStatuses.slice(0, 7), [200, 200, 200, 200, 200, 200, 429]);

    const shadowStatuses = replies.map(([, s]) => s.status);
    assert.ok(shadowStatuses.every((s) => s === 200), `shadow must admit all: ${shadowStatuses}`);
    const wouldBe = (shadow.logs().match(/rate limit \(shadow\) zone=minute_shadow .*would be limited/g) ?? []).length;
    assert.ok(Math.abs(wouldBe - rejected) <= 1, `shadow logged ${wouldBe} would-be rejections, enforced rejected ${rejected}`);
    assert.ok(elapsed < 75, `took ${elapsed.toFixed(1)} s`);
    console.log(`sent ${SENDS} in ${elapsed.toFixed(1)} s: enforced ${admitted} admitted (GCRA ${expected}), ${rejected} rejected; shadow logged ${wouldBe}`);
  } finally {
    await enforced.stop();
    await shadow.stop();
  }
});
