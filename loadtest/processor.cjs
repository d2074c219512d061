// Artillery hooks for mcp.yml: every reply is checked, and a reply that is not what an MCP client
// expects fails its virtual user with an error (counted in the report's `errors.*`), so the
// run's "0 errors" check covers JSON-RPC errors, isError tool results and wrong echoes too.
// Counters (report `counters`):
//   mcp.initialize.ok       sessions opened (initialize answered with a result and a session id)
//   mcp.tools_call.ok       tools/call answered with the echoed text
//   mcp.session_deleted.ok  sessions ended with DELETE
'use strict';

const { randomUUID } = require('node:crypto');

// A Streamable HTTP reply is either one JSON message or an SSE stream (a priming event, maybe
// notifications, then the response); returns the JSON-RPC message answering `id`.
function replyTo(res, id) {
  const type = String(res.headers['content-type'] || '');
  const body = typeof res.body === 'string' ? res.body : String(res.body ?? '');
  if (type.startsWith('application/json')) {
    const msg = JSON.parse(body);
    return Array.isArray(msg) ? msg.find((m) => m && m.id === id) : msg;
  }
  if (type.startsWith('text/event-stream')) {
    for (const event of body.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (!data) continue;
      const msg = JSON.parse(data);
      if (msg && msg.id === id) return msg;
    }
    return undefined;
  }
  throw new Error(`unexpected Content-Type '${type}'`);
}

function fail(what, res, detail) {
  const body = typeof res.body === 'string' ? res.body.slice(0, 300) : '';
  // The message becomes the error's key in the report: keep it short and stable.
  const err = new Error(`${what}: ${detail}`);
  err.code = `${what}: ${detail}`;
  if (process.env.LOADTEST_VERBOSE) console.error(`${what}: ${detail} (HTTP ${res.statusCode}) ${body}`);
  return err;
}

function rpcResult(what, res, id) {
  if (res.statusCode !== 200) return { err: fail(what, res, `HTTP ${res.statusCode}`) };
  let msg;
  try {
    msg = replyTo(res, id);
  } catch (e) {
    return { err: fail(what, res, `unreadable reply (${e.message})`) };
  }
  if (!msg) return { err: fail(what, res, `no reply with id ${id}`) };
  if (msg.error) return { err: fail(what, res, `JSON-RPC error ${msg.error.code}`) };
  if (!msg.result || typeof msg.result !== 'object') return { err: fail(what, res, 'no result') };
  return { result: msg.result };
}

function checkInitialize(req, res, context, events, next) {
  const { err, result } = rpcResult('initialize', res, 1);
  if (err) return next(err);
  if (!res.headers['mcp-session-id']) return next(fail('initialize', res, 'no Mcp-Session-Id'));
  if (typeof result.protocolVersion !== 'string') return next(fail('initialize', res, 'no protocolVersion'));
  events.emit('counter', 'mcp.initialize.ok', 1);
  return next();
}

function checkAccepted(req, res, context, events, next) {
  if (res.statusCode !== 202) return next(fail('notifications/initialized', res, `HTTP ${res.statusCode}`));
  return next();
}

function newMessage(context, events, done) {
  context.vars.message = `load-${randomUUID()}`;
  return done();
}

function checkToolCall(req, res, context, events, next) {
  const { err, result } = rpcResult('tools/call', res, 2);
  if (err) return next(err);
  if (result.isError) return next(fail('tools/call', res, 'isError result'));
  const text = Array.isArray(result.content) && result.content[0] ? result.content[0].text : undefined;
  if (text !== context.vars.message) return next(fail('tools/call', res, 'echo returned other text'));
  events.emit('counter', 'mcp.tools_call.ok', 1);
  return next();
}

function checkDeleted(req, res, context, events, next) {
  if (res.statusCode < 200 || res.statusCode > 299) return next(fail('DELETE session', res, `HTTP ${res.statusCode}`));
  events.emit('counter', 'mcp.session_deleted.ok', 1);
  return next();
}

module.exports = { checkInitialize, checkAccepted, newMessage, checkToolCall, checkDeleted };
