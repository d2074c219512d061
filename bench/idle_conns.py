#!/usr/bin/env python3
"""Memory of idle keep-alive connections: VmRSS of a server before and while N clients idle.

Called by bench/run.sh (the memory phase); usable by hand against any running Bastion:
  bench/idle_conns.py --url http://127.0.0.1:PORT/mcp/echo --pid PID --count 10000

Steps, each bounded in time:
 1. RSS of the fresh server ("idle").
 2. Warm-up: `--count` tools/calls over a few connections, which are then closed, so that what
    the calls themselves leave behind (the recording store's page cache, allocator pools) is
    already there before the baseline is taken ("after warm-up").
 3. N connections, opened a few hundred at a time; each completes its TLS handshake (https) and
    one tools/call whose reply must be 200 with the echo, then stays open and idle.
 4. RSS once it has settled ("with N connections"); per connection = (3 - 2) / N.
 5. Every connection sends a second call, which must succeed: the N connections were really
    open and kept alive by the server during the measurement, not closed under us.
 6. All closed; RSS once more ("after close").
Prints one JSON object on stdout. Exit status: 0 when every connection opened and passed both
calls, 1 otherwise (the JSON says what failed), 2 on a usage error. Standard library only.
"""
import argparse
import asyncio
import json
import resource
import ssl
import sys
import time
import urllib.parse

VERSION = "2026-07-28"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def memory(pid):
    """VmRSS and its split into anonymous (the server's own allocations) and file-backed pages
    (code of the binary and its libraries, shared with every other process that maps them)."""
    return {k: status_kib(pid, k) for k in ("VmRSS", "RssAnon", "RssFile", "Threads")}


def settled_memory(pid, seconds=5.0):
    """Memory once VmRSS stops moving: two reads 250 ms apart within 64 KiB, or after `seconds`."""
    deadline = time.monotonic() + seconds
    last = memory(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = memory(pid)
        if abs(now["VmRSS"] - last["VmRSS"]) <= 64:
            return now
        last = now
    return last


def open_fds(pid):
    try:
        import os
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class Client:
    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        if u.scheme not in ("http", "https") or not u.hostname or not u.port:
            raise ValueError("--url must be http(s)://HOST:PORT/PATH")
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/"
        self.ssl = None
        if u.scheme == "https":
            self.ssl = ssl.create_default_context(cafile=args.cafile)
        self.authorization = args.authorization
        self.message = args.message
        self.timeout = args.timeout
        self.next_id = 0

    def request(self):
        self.next_id += 1
        body = ('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":'
                '{"message":"%s"},"_meta":{"io.modelcontextprotocol/protocolVersion":"%s",'
                '"io.modelcontextprotocol/clientCapabilities":{}}}}' % (self.next_id, self.message, VERSION))
        head = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Content-Type: application/json", "Accept: application/json, text/event-stream",
                f"MCP-Protocol-Version: {VERSION}", "Mcp-Method: tools/call", "Mcp-Name: echo",
                f"Content-Length: {len(body)}"]
        if self.authorization:
            head.append(f"Authorization: {self.authorization}")
        return ("\r\n".join(head) + "\r\n\r\n" + body).encode()

    async def open(self):
        return await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=1 << 20), self.timeout)

    async def call(self, reader, writer):
        """One tools/call on an open connection; returns None when good, else what was wrong."""
        writer.write(self.request())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), self.timeout)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await asyncio.wait_for(reader.readline(), self.timeout)).split(b";")[0], 16)
                chunk = await asyncio.wait_for(reader.readexactly(size + 2), self.timeout)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            return f"HTTP {status} without a length"
        if status != "200":
            return f"HTTP {status}: {body[:200]!r}"
        if f'"text":"{self.message}"'.encode() not in body:
            return f"HTTP 200 without the echo: {body[:200]!r}"
        if headers.get("connection", "").lower() == "close":
            return "the server closed the connection after the reply (no keep-alive)"
        return None


async def run(args):
    client = Client(args)
    out = {"count": args.count, "url": args.url, "tls": client.ssl is not None}
    failures = []

    def fail(what):
        if len(failures) < 10:
            failures.append(what)

    out["idle"] = memory(args.pid)
    out["idle_fds"] = open_fds(args.pid)

    # 2. Warm-up: as many calls as there will be connections, over a few connections.
    t0 = time.monotonic()
    warm = max(1, min(8, args.count))

    async def warm_one(n):
        reader, writer = await client.open()
        try:
            for _ in range(n):
                problem = await client.call(reader, writer)
                if problem:
                    fail("warm-up: " + problem)
                    return
        finally:
            writer.close()

    if args.warmup:
        results = await asyncio.gather(*(warm_one(args.count // warm + 1) for _ in range(warm)),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                fail(f"warm-up: {type(r).__name__}: {r}")
        await asyncio.sleep(0.5)  # let the server notice the closes
    out["warmup_s"] = round(time.monotonic() - t0, 2)
    out["after_warmup"] = settled_memory(args.pid)

    # 3. N idle connections.
    conns = []
    gate = asyncio.Semaphore(args.parallel)
    t0 = time.monotonic()

    async def open_one():
        async with gate:
            try:
                reader, writer = await client.open()
            except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
                fail(f"connect: {type(e).__name__}: {e}")
                return
            try:
                problem = await client.call(reader, writer)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                problem = f"first call: {type(e).__name__}: {e}"
            if problem:
                fail(problem)
                writer.close()
                return
            conns.append((reader, writer))

    await asyncio.gather(*(open_one() for _ in range(args.count)))
    out["open_s"] = round(time.monotonic() - t0, 2)
    out["opened"] = len(conns)

    # 4. With N connections.
    out["with_conns"] = settled_memory(args.pid)
    out["with_conns_fds"] = open_fds(args.pid)

    # 5. Every connection is still alive: a second call on each.
    t0 = time.monotonic()
    second_ok = 0

    async def again(reader, writer):
        nonlocal second_ok
        async with gate:
            try:
                problem = await client.call(reader, writer)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                problem = f"{type(e).__name__}: {e}"
            if problem:
                fail("second call: " + problem)
            else:
                second_ok += 1

    await asyncio.gather(*(again(r, w) for r, w in conns))
    out["second_call_ok"] = second_ok
    out["second_call_s"] = round(time.monotonic() - t0, 2)

    # 6. Close all.
    for _, writer in conns:
        writer.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    await asyncio.sleep(0.5)
    out["after_close"] = settled_memory(args.pid)

    base = out["after_warmup"]["VmRSS"]
    if conns:
        out["per_conn_kib"] = round((out["with_conns"]["VmRSS"] - base) / len(conns), 2)
        out["per_conn_anon_kib"] = round((out["with_conns"]["RssAnon"] - out["after_warmup"]["RssAnon"]) / len(conns), 2)
    out["failures"] = failures
    ok = not failures and len(conns) == args.count and second_ok == args.count
    out["ok"] = ok
    return out, ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="http(s)://HOST:PORT/mcp/UPSTREAM with a tool echo {message}")
    p.add_argument("--pid", type=int, required=True, help="the server process to read /proc/PID/status of")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--parallel", type=int, default=200, help="connections being opened at once")
    p.add_argument("--cafile", default=None)
    p.add_argument("--authorization", default="", help="an Authorization header value")
    p.add_argument("--message", default="hello")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per connect, handshake or reply")
    p.add_argument("--no-warmup", dest="warmup", action="store_false")
    args = p.parse_args()
    if args.count < 1 or args.parallel < 1:
        p.error("--count and --parallel must be >= 1")
    # Our own fds: one per connection plus a margin.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.count + 64
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print(json.dumps({"ok": False, "failures": [f"RLIMIT_NOFILE hard limit {hard} < {need}"]}))
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        out, ok = asyncio.run(run(args))
    except (OSError, ValueError) as e:
        print(json.dumps({"ok": False, "failures": [f"{type(e).__name__}: {e}"]}))
        return 1
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
