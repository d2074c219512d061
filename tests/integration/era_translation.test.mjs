// Era translation: 2025-era clients (the official SDK) through Bastion to an upstream that speaks
// only 2026-07-28 (the demo agent with --stateless-only), and 2026-era clients to the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startBastion, demoAgent, post, stateless, statelessHeaders } from './harness.mjs';

let bastion;
before(async () => {
  bastion = await startBastion({
    upstreams: {
      modern: demoAgent({ args: ['--stateless-only'] }),
      modernpc: demoAgent({ args: ['--stateless-only'], sessions: 'per-client' }),
    },
  });
});
after(async () => { await bastion?.stop(); });

for (const route of ['modern', 'modernpc']) {
  test(`${route}: a 2025-era SDK client works against a 2026-only upstream`, async () => {
    const client = new Client({ name: 'old-client', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${bastion.base}/mcp/${route}`)));
    assert.equal(client.getServerVersion().name, 'bastion-demo-agent');
    await client.ping();
    await client.setLoggingLevel('info');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    const r = await client.callTool({ name: 'echo', arguments: { message: 'across eras' } });
    assert.equal(r.content[0].text, 'across eras');
    assert.equal(r.resultType, undefined, '2026-only fields are not shown to a 2025 client');
    const progress = [];
    await client.callTool({ name: 'slow', arguments: { ms: 300 } }, undefined,
      { onprogress: (p) => progress.push(p.progress) });
    assert.ok(progress.length > 0, 'progress from a stateless upstream reaches the session');
    await assert.rejects(client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }),
      /input_required/);
    await client.close();
  });
}

test('a 2026-era client passes straight through to the 2026-only upstream', async () => {
  const r = await post(`${bastion.base}/mcp/modern`, stateless('tools/call',
    { name: 'test_input_required_result_elicitation', arguments: {} }, 1, { elicitation: {} }),
  statelessHeaders('tools/call', 'test_input_required_result_elicitation'));
  assert.equal(r.json.result.resultType, 'input_required');
  assert.ok(r.json.result.inputRequests.user_name);
});
