// OTLP/HTTP traces: a collector in the test receives and decodes Bastion's spans (JSON encoding),
// the client's W3C trace context is continued and handed upstream in params._meta, the exporter's
// headers come from a secret file, and a collector outage is retried, then caught up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBastion, demoAgent, post, stateless, statelessHeaders, freePort } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

function collector(port) {
  const spans = [];
  const auth = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      auth.push(req.headers.authorization);
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400).end('{}');
        return;
      }
      const doc = JSON.parse(body);
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const attrs = Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
            spans.push({ ...s, attrs, service });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, spans, auth })));
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const callTool = (bastion, upstream, name, args, meta = {}) => post(`${bastion.base}/mcp/${upstream}`,
  stateless('tools/call', { name, arguments: args, _meta: meta }), statelessHeaders('tools/call', name));

test('spans reach an OTLP collector with MCP attributes and tags; the trace continues upstream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bastion-otlp-'));
  chmodSync(dir, 0o755);
  const headersFile = join(dir, 'otlp-headers');
  writeFileSync(headersFile, 'Authorization: Bearer otlp-secret-7f3a\n');
  chmodSync(headersFile, 0o644);
  const port = await freePort();
  let c = await collector(port);
  const bastion = await startBastion({
    upstreams: { demo: demoAgent(), metaecho: { command: process.execPath, args: [join(here, 'fixtures/meta_echo_agent.mjs')] } },
    telemetry: { otlp_endpoint: `http://127.0.0.1:${port}/v1/traces`, headers_file: headersFile, service_name: 'bastion-it' },
  });
  try {
    const traceparent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
    let r = await callTool(bastion, 'demo', 'echo', { message: 'hi' }, { traceparent });
    assert.equal(r.status, 200);
    r = await callTool(bastion, 'demo', 'contradict', { claim: 'the sky is green' });
    assert.equal(r.status, 200);
    r = await callTool(bastion, 'demo', 'fail', { code: -32042 });
    assert.ok(r.json.error);
    r = await callTool(bastion, 'metaecho', 'meta', {}, { traceparent });
    const passed = JSON.parse(r.json.result.content[0].text);

    await until('4 spans', () => c.spans.length >= 4, 10000);
    const byName = Object.fromEntries(c.spans.map((s) => [s.name, s]));
    const echo = byName['tools/call echo'];
    assert.ok(echo, JSON.stringify(c.spans.map((s) => s.name)));
    assert.equal(echo.service, 'bastion-it');
    assert.equal(echo.traceId, CLIENT_TRACE, 'the client trace continues');
    assert.equal(echo.parentSpanId, CLIENT_SPAN);
    assert.match(echo.spanId, /^[0-9a-f]{16}$/);
    assert.equal(echo.kind, 2);
    assert.ok(BigInt(echo.endTimeUnixNano) >= BigInt(echo.startTimeUnixNano));
    assert.equal(echo.attrs['mcp.method.name'], 'tools/call');
    assert.equal(echo.attrs['gen_ai.tool.name'], 'echo');
    assert.equal(echo.attrs['gen_ai.operation.name'], 'execute_tool');
    assert.equal(echo.attrs['bastion.agent_type'], 'demo');
    assert.equal(echo.attrs['bastion.status'], 'ok');
    assert.equal(echo.attrs['bastion.latency_bucket'], 'fast');
    assert.match(echo.attrs['bastion.input_hash'], /^[0-9a-f]{64}$/);
    assert.equal(echo.status.code, 0);

    const contradict = byName['tools/call contradict'];
    assert.match(contradict.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(contradict.traceId, CLIENT_TRACE, 'no client context: a new trace');
    assert.equal(contradict.parentSpanId, undefined);
    assert.ok(['none', 'mild', 'moderate', 'extreme'].includes(contradict.attrs['bastion.contradiction_level']));
    assert.equal(typeof contradict.attrs['bastion.output_quality'], 'number');

    const fail = byName['tools/call fail'];
    assert.equal(fail.status.code, 2);
    assert.equal(fail.attrs['error.type'], '-32042');
    assert.equal(fail.attrs['rpc.response.status_code'], '-32042');

    // The upstream received Bastion's own span as its parent, in the client's trace.
    const meta = byName['tools/call meta'];
    assert.equal(passed.traceparent, `00-${CLIENT_TRACE}-${meta.spanId}-01`);
    assert.equal(meta.parentSpanId, CLIENT_SPAN);

    assert.ok(c.auth.every((a) => a === 'Bearer otlp-secret-7f3a'));
    assert.ok(!bastion.logs().includes('otlp-secret-7f3a'), 'the header value never reaches the logs');
    // A batch counts as exported once the collector has answered, which can come after the
    // collector has seen its spans.
    let health = await until('4 spans counted as exported', async () => {
      const h = await (await fetch(`${bastion.admin}/healthz`)).json();
      return h.checks.telemetry[0].exportedTotal >= 4 ? h : null;
    }, 10000);
    assert.equal(health.checks.telemetry[0].status, 'pass');

    // The collector goes away: the exporter retries with backoff and reports warn; nothing is lost
    // once it is back.
    await new Promise((resolve) => c.server.close(resolve));
    c.server.closeAllConnections?.();
    for (let i = 0; i < 5; i++) assert.equal((await callTool(bastion, 'demo', 'echo', { message: `outage ${i}` })).status, 200);
    health = await until('telemetry warn', async () => {
      const h = await (await fetch(`${bastion.admin}/healthz`)).json();
      return h.checks.telemetry[0].status === 'warn' ? h : null;
    }, 10000);
    assert.equal(health.status, 'warn');
    c = await collector(port);
    await until('the outage spans', () => c.spans.filter((s) => s.name === 'tools/call echo').length >= 5, 40000);
    health = await until('telemetry pass again', async () => {
      const h = await (await fetch(`${bastion.admin}/healthz`)).json();
      return h.checks.telemetry[0].status === 'pass' ? h : null;
    }, 10000);
    assert.equal(health.checks.telemetry[0].droppedTotal, 0);
    const metrics = await (await fetch(`${bastion.admin}/metrics`)).text();
    assert.match(metrics, /bastion_trace_spans_exported_total 9/);
    assert.match(metrics, /bastion_trace_spans_dropped_total 0/);
  } finally {
    await bastion.stop();
    await new Promise((resolve) => c.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
