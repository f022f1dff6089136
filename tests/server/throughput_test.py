#!/usr/bin/python3
"""Continuous batching pays: on the medium synthetic LFM2-MoE preset (~220 MB, generated here),
the aggregate decode throughput of 4 concurrent streams must be at least 2x that of a single
stream, measured side by side against one `lfm2 serve --parallel 4` (same threads, same model).

Decode throughput is taken from token arrival times (logprobs on, so every token is one SSE
event): single = tokens after the first / (last - first arrival); 4 streams = tokens arriving in
the window where all 4 are decoding / its length. Prefill is outside both windows. The ratio is
the median over a few alternating rounds, so a noisy machine moves both sides alike. Only this
ratio is asserted (the issue's requirement); absolute speeds are reported, never checked.

usage: throughput_test.py LFM2_BINARY SHARED_DIR [ROUNDS]
"""
import os
import shutil
import statistics
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as h  # noqa: E402

LFM2, SHARED = os.path.abspath(sys.argv[1]), sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
TOKENS = 48
PROMPTS = ["Tell me a story about the sea", "Explain how rain forms", "Describe a busy market",
           "Write about a mountain town"]


def body(i):
    # No stop token may end a stream early: the end-of-turn ids get a large negative bias.
    return {"messages": [{"role": "user", "content": PROMPTS[i]}], "max_tokens": TOKENS, "temperature": 1.0,
            "seed": 7 + i, "logprobs": True, "logit_bias": {"2": -100, "7": -100}}


def token_times(events):
    """Arrival time of each generated token (one event per token with logprobs)."""
    times = []
    for t, event in events:
        for choice in event.get("choices", []):
            content = (choice.get("logprobs") or {}).get("content") or []
            times.extend([t] * len(content))
    return times


def single(port):
    status, events, done = h.stream(port, "/v1/chat/completions", body(0))
    assert status == 200 and done, events
    times = token_times(events)
    return (len(times) - 1) / (times[-1] - times[0])


def quad(port):
    results = [None] * 4

    def run(i):
        results[i] = h.stream(port, "/v1/chat/completions", body(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    streams = []
    for status, events, done in results:
        assert status == 200 and done, events
        streams.append(token_times(events))
    start = max(times[0] for times in streams)  # all four are decoding from here...
    end = min(times[-1] for times in streams)   # ...to here
    inside = sum(1 for times in streams for t in times if start < t <= end)
    return inside / (end - start)


def main():
    work = h.temp_dir()
    server = None
    try:
        model = h.make_model(work, SHARED, "medium")
        # One thread: on a shared 2-core machine a second compute thread mostly waits for a core.
        server = h.Server(LFM2, model, "--parallel", "4", "--ctx", "512", "-t", "1")
        single(server.port)  # warm up: page the weights in
        ratios = []
        for round_index in range(ROUNDS):
            one = single(server.port)
            four = quad(server.port)
            ratios.append(four / one)
            print(f"round {round_index + 1}: 1 stream {one:.1f} tok/s, 4 streams {four:.1f} tok/s aggregate, "
                  f"ratio {four / one:.2f}", flush=True)
        ratio = statistics.median(ratios)
        print(f"median ratio 4-stream / 1-stream decode throughput: {ratio:.2f}")
        ok = ratio >= 2.0
        print(("ok   " if ok else "FAIL ") + "4 concurrent streams >= 2x single-stream throughput")
        sys.exit(0 if ok else 1)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
