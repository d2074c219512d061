// The federated tools/list on /mcp across two upstreams: served from the merged cache, rebuilt
// when one upstream announces tools/list_changed, and filtered per caller on every reply (a
// cached list never leaks a tool the caller may not use).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASTION, startBastion, demoAgent, post, stateless, statelessHeaders } from './harness.mjs';

const work = mkdtempSync(join(tmpdir(), 'bastion-fedlist-'));
after(() => rmSync(work, { recursive: true, force: true }));

const createToken = (name, file, extra = []) =>
  execFileSync(BASTION, ['token', 'create', name, '--tokens-file', file, ...extra], { encoding: 'utf8' }).trim();

test('federated tools/list: cached, rebuilt on list_changed, filtered per caller', async () => {
  const tokens = join(work, 'tokens');
  const alice = createToken('alice', tokens, ['--tools', 'a__echo']);
  const bob = createToken('bob', tokens);
  const b = await startBastion({ upstreams: { a: demoAgent(), b: demoAgent() }, auth: { tokens_file: tokens } });
  try {
    const mcp = `${b.base}/mcp`;
    let id = 0;
    const list = async (token) => {
      const res = await post(mcp, stateless('tools/list', {}, ++id), { ...statelessHeaders('tools/list'), Authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, res.text);
      return res.json.result.tools.map((t) => t.name);
    };
    const call = async (token, name) => {
      const res = await post(mcp, stateless('tools/call', { name, arguments: {} }, ++id),
        { ...statelessHeaders('tools/call', name), Authorization: `Bearer ${token}` });
      assert.equal(res.status, 200, res.text);
      return res.json;
    };
    // Polls (bounded, one request per round) until the list satisfies `ok`.
    const listUntil = async (token, ok) => {
      for (let i = 0; i < 200; i++) {
        const names = await list(token);
        if (ok(names)) return names;
      }
      assert.fail('the federated list never reached the expected state');
    };

    const first = await list(bob);
    assert.ok(first.includes('a__echo') && first.includes('b__echo'), first.join());
    assert.ok(!first.includes('b__test_dynamic_tool'));
    assert.deepEqual(await list(bob), first, 'the cached list is the same list');
    // Bob's full list is now cached; Alice still sees only her allowed tool.
    assert.deepEqual(await list(alice), ['a__echo']);

    // Upstream b toggles a tool and announces tools/list_changed: only b's part changes.
    const toggled = await call(bob, 'b__test_trigger_tool_change');
    assert.match(toggled.result.content[0].text, /now listed/);
    const changed = await listUntil(bob, (n) => n.includes('b__test_dynamic_tool'));
    assert.ok(!changed.includes('a__test_dynamic_tool'), 'upstream a did not change');
    assert.equal(changed.length, first.length + 1);
    assert.deepEqual(await list(alice), ['a__echo'], 'the rebuilt list is filtered for Alice too');
    // A tool Alice may not use is not callable either, cached list or not.
    const denied = await call(alice, 'b__test_dynamic_tool');
    assert.ok(denied.error, JSON.stringify(denied));

    await call(bob, 'b__test_trigger_tool_change');
    const back = await listUntil(bob, (n) => !n.includes('b__test_dynamic_tool'));
    assert.deepEqual(back, first);
  } finally { await b.stop(); }
});
