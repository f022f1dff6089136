#!/usr/bin/python3
"""Loopback load test of `lfm2 serve` on a small generated model: 200 requests from 8 concurrent
clients (keep-alive connections), about a quarter of them malformed (bad JSON, wrong types, unknown
routes, wrong methods, raw garbage, oversized, truncated and Host-less requests, context overflow).
Checks: the server never crashes; every well-formed request gets exactly its own answer - each one
is one of 8 seeded (prompt, seed) combinations whose text was recorded one at a time beforehand, so
a lost, mixed-up or non-deterministic response is caught; every malformed one gets its 4xx with an
OpenAI error body. Reports p50/p95 latency and aggregate tok/s. Then a one-slot, one-place-queue
server under a burst must answer 429 for the overflow and 200 for the rest. Also the refusals at
start: a RAM plan for the slots over --max-ram, bad flags, a port in use.

usage: load_test.py LFM2_BINARY SHARED_DIR
"""
import json
import os
import queue
import random
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as h  # noqa: E402

LFM2, SHARED = os.path.abspath(sys.argv[1]), sys.argv[2]
FAILURES = []
TOTAL, CLIENTS = 200, 8


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


PROMPTS = ["Hello there", "Write a poem about the sea", "What is 2+2?", "Tell me about dragons",
           "Summarise the plot of Hamlet", "List three colours", "Translate 'cat' to French", "Say hi"]


def combo_body(k, chat=True):
    body = {"seed": 1000 + k, "temperature": 1.0, "max_tokens": 6 + 3 * k}
    if chat:
        body["messages"] = [{"role": "user", "content": PROMPTS[k]}]
    else:
        body["prompt"] = PROMPTS[k]
    return body


def raw_socket(port, data, close_early=False):
    """Sends raw bytes; returns the status code of the reply (0 when none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
        if close_early:
            return 0
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    finally:
        s.close()


MALFORMED = {
    # kind: (expected status, how to send)
    "bad_json": (400, lambda p: h.request(p, "POST", "/v1/chat/completions", "{not json")[0]),
    "wrong_type": (400, lambda p: h.request(p, "POST", "/v1/chat/completions", {"messages": "x"})[0]),
    "bad_temperature": (400, lambda p: h.request(p, "POST", "/v1/chat/completions",
                                                 {"messages": [{"role": "user", "content": "x"}], "temperature": -3})[0]),
    "n2": (400, lambda p: h.request(p, "POST", "/v1/completions", {"prompt": "x", "n": 2})[0]),
    "context": (400, lambda p: h.request(p, "POST", "/v1/chat/completions",
                                         {"messages": [{"role": "user", "content": "x"}], "max_tokens": 10 ** 6})[0]),
    "unknown_route": (404, lambda p: h.request(p, "GET", "/v1/nothing")[0]),
    "wrong_method": (405, lambda p: h.request(p, "GET", "/v1/chat/completions")[0]),
    "garbage": (400, lambda p: raw_socket(p, b"\x00\x01\xffgarbage\r\n\r\n")),
    "no_host": (400, lambda p: raw_socket(p, b"GET /health HTTP/1.1\r\n\r\n")),
    "too_big": (413, lambda p: raw_socket(p, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")),
    "truncated": (0, lambda p: raw_socket(p, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro",
                                          close_early=True)),
}


def reference(port):
    """Each combination's text and completion tokens, run one at a time."""
    expected = {}
    for k in range(len(PROMPTS)):
        for chat in (True, False):
            status, body = h.request(port, "POST", "/v1/chat/completions" if chat else "/v1/completions",
                                     combo_body(k, chat))
            assert status == 200, body
            text = body["choices"][0]["message"]["content"] if chat else body["choices"][0]["text"]
            expected[(k, chat)] = (text, body["usage"]["completion_tokens"])
    return expected


def run_valid(port, spec, connection_pool):
    k, chat, streamed = spec["combo"], spec["chat"], spec["stream"]
    path = "/v1/chat/completions" if chat else "/v1/completions"
    body = combo_body(k, chat)
    if streamed:
        body["stream_options"] = {"include_usage": True}
        status, events, done = h.stream(port, path, body)
        if status != 200 or not done:
            return status, None, 0
        text = "".join((c.get("delta", {}).get("content") or "") if chat else c.get("text", "")
                       for _, e in events for c in e.get("choices", []))
        tokens = next((e["usage"]["completion_tokens"] for _, e in events if e.get("usage")), -1)
        return status, text, tokens
    connection = connection_pool.get()
    try:
        connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
    except Exception:  # a dropped keep-alive connection is a failure of the server
        connection.close()
        return 0, None, 0
    finally:
        connection_pool.put(connection)
    if response.status != 200:
        return response.status, None, 0
    text = payload["choices"][0]["message"]["content"] if chat else payload["choices"][0]["text"]
    return 200, text, payload["usage"]["completion_tokens"]


def load_phase(binary, model):
    server = h.Server(binary, model, "--parallel", "4", "--queue", "64", "--ctx", "1024", "-t", "1",
                      "--max-body", "65536")
    try:
        expected = reference(server.port)
        rng = random.Random(12345)
        specs = []
        for i in range(TOTAL):
            if rng.random() < 0.25:
                specs.append({"kind": rng.choice(sorted(MALFORMED))})
            else:
                specs.append({"kind": "valid", "combo": rng.randrange(len(PROMPTS)), "chat": rng.random() < 0.75,
                              "stream": rng.random() < 0.5})
        work = queue.Queue()
        for i, spec in enumerate(specs):
            work.put((i, spec))
        results = [None] * TOTAL
        import http.client
        pools = []

        def client():
            pool = queue.Queue()
            pool.put(http.client.HTTPConnection("127.0.0.1", server.port, timeout=300))
            pools.append(pool)
            while True:
                try:
                    i, spec = work.get_nowait()
                except queue.Empty:
                    return
                start = time.monotonic()
                try:
                    if spec["kind"] == "valid":
                        status, text, tokens = run_valid(server.port, spec, pool)
                    else:
                        status, text, tokens = MALFORMED[spec["kind"]][1](server.port), None, 0
                except Exception as e:  # noqa: BLE001 - any transport failure is a test failure
                    status, text, tokens = -1, repr(e), 0
                results[i] = (status, text, tokens, time.monotonic() - start)

        start = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start

        latencies, tokens_total, wrong, statuses = [], 0, [], {}
        for spec, result in zip(specs, results):
            status, text, tokens, seconds = result
            statuses[status] = statuses.get(status, 0) + 1
            if spec["kind"] == "valid":
                want = expected[(spec["combo"], spec["chat"])]
                if status != 200 or text != want[0] or tokens != want[1]:
                    wrong.append((spec, status, text, want))
                latencies.append(seconds)
                tokens_total += tokens
            elif status != MALFORMED[spec["kind"]][0]:
                wrong.append((spec, status, text, MALFORMED[spec["kind"]][0]))
        valid = sum(1 for s in specs if s["kind"] == "valid")
        print(f"{TOTAL} requests ({valid} well-formed, {TOTAL - valid} malformed), {CLIENTS} clients, "
              f"{wall:.1f} s; statuses {dict(sorted(statuses.items()))}")
        print(f"latency of well-formed requests: p50 {h.percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p95 {h.percentile(latencies, 0.95) * 1000:.0f} ms; aggregate {tokens_total / wall:.1f} generated tok/s "
              f"({tokens_total} tokens)")
        for item in wrong[:5]:
            print("   mismatch:", item)
        check(not wrong, f"every response is the right one ({len(wrong)} wrong of {TOTAL})")
        check(server.alive(), "the server survived the load")
        # A client has its whole response before the server's bookkeeping after it (the slot's
        # release, the request's count) is done: give that a moment, bounded.
        deadline = time.monotonic() + 10
        while True:
            status, health = h.request(server.port, "GET", "/health")
            idle = status == 200 and health["slots_processing"] == 0 and health["queue"] == 0
            if idle or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(idle, f"idle and healthy afterwards: {health}")
        while True:
            status, metrics = h.request(server.port, "GET", "/metrics")
            counted = sum(int(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith("lfm2_requests_total{") and 'status="200"' in line
                          and "completions" in line)
            if counted >= valid + 2 * len(PROMPTS) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(counted >= valid + 2 * len(PROMPTS), f"metrics counted {counted} successful completions")
    finally:
        code = server.stop()
        check(code == 0, f"clean shutdown on SIGTERM (exit {code})")


def overload_phase(binary, model):
    """One slot and one queue place: a burst of 6 long requests gets 429 for the overflow."""
    server = h.Server(binary, model, "--parallel", "1", "--queue", "1", "--ctx", "2048", "-t", "1")
    try:
        body = {"messages": [{"role": "user", "content": "Go on"}], "max_tokens": 600, "temperature": 1,
                "logit_bias": {"7": -100, "2": -100}}
        statuses = []
        lock = threading.Lock()

        def one():
            status, reply = h.request(server.port, "POST", "/v1/chat/completions", body)
            with lock:
                statuses.append((status, reply))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        ok = [s for s, _ in statuses if s == 200]
        refused = [r for s, r in statuses if s == 429]
        check(len(ok) >= 2 and len(refused) >= 1 and len(ok) + len(refused) == 6,
              f"burst on 1 slot + 1 queue place: {len(ok)} x 200, {len(refused)} x 429")
        check(all(r["error"]["type"] == "rate_limit_error" for r in refused), "429 bodies are OpenAI errors")
    finally:
        server.stop()


def startup_checks(binary, model):
    """Refusals at start: the RAM plan for N slots over --max-ram (1), bad flags (2), a busy port (1)."""
    import subprocess
    proc = subprocess.run([binary, "serve", "--model", model, "--parallel", "4", "--ctx", "4096", "--max-ram", "40M"],
                          capture_output=True, text=True, timeout=120)
    check(proc.returncode == 1 and "--max-ram" in proc.stderr,
          f"plan for 4 slots over --max-ram refused with exit 1: {proc.stderr.strip()[:160]}")
    proc = subprocess.run([binary, "serve", "--model", model, "--parallel", "0"], capture_output=True, text=True, timeout=60)
    check(proc.returncode == 2, "--parallel 0 is a usage error (exit 2)")
    server = h.Server(binary, model, "-t", "1", "--ctx", "256")
    try:
        proc = subprocess.run([binary, "serve", "--model", model, "--port", str(server.port), "--ctx", "256"],
                              capture_output=True, text=True, timeout=120)
        check(proc.returncode == 1 and "cannot listen" in proc.stderr, "a port in use: exit 1")
    finally:
        server.stop()


def main():
    work = h.temp_dir()
    try:
        model = h.make_model(work, SHARED, "tiny-moe", ["--bits", "4", "--vocab-size", "7808"])
        startup_checks(LFM2, model)
        load_phase(LFM2, model)
        overload_phase(LFM2, model)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(FAILURES)} FAILED" if FAILURES else "\nall passed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
