#!/usr/bin/env python3
"""A long soak of `lfm2 serve` with mixed valid, malformed and dropped requests (loopback only,
bounded in time and count): for leak hunting under ASan+LSan and RSS drift in release builds.

usage: soak.py LFM2_BINARY [--seconds 600] [--warmup 30] [--threads 4] [--max-requests N]
                           [--model DIR] [--sanitized]

Warms up, samples RSS, then runs the mixed traffic (tests/server/hostile_traffic.py) for
--seconds, printing RSS every 30 s. At the end the server is stopped with SIGTERM. Fails when the
server dies, exits non-zero, a sanitizer reports anything (LeakSanitizer runs at exit in an ASan
build), or - release builds only - RSS after the soak is more than 20 MB above RSS after warm-up.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as harness  # noqa: E402
from hostile_traffic import memory, mixed_burst  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=2000000)
    parser.add_argument("--model", default=os.path.join(harness.ROOT, "models", "lfm2-demo-moe"))
    parser.add_argument("--sanitized", action="store_true", help="ASan build: RSS is only reported")
    args = parser.parse_args()

    server = harness.Server(args.binary, args.model, "--api-key", harness.TEST_API_KEY, "-t", "1",
                            "--parallel", "2")
    pid = server.process.pid
    ok = True
    try:
        warm_counts = mixed_burst(server.port, args.warmup, args.threads)
        time.sleep(1)
        warm, _ = memory(pid)
        print(f"warm-up {args.warmup:.0f} s: {warm_counts}; RSS {warm:.1f} MB", flush=True)
        totals = {}
        end = time.monotonic() + args.seconds
        left = args.max_requests
        while time.monotonic() < end and left > 0 and server.alive():
            counts = mixed_burst(server.port, min(30.0, end - time.monotonic()), args.threads, left)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            left -= sum(counts.values())
            rss, peak = memory(pid)
            print(f"  {args.seconds - max(0.0, end - time.monotonic()):5.0f} s: RSS {rss:.1f} MB "
                  f"(peak {peak:.1f}), {totals}", flush=True)
        time.sleep(1)
        alive = server.alive()
        after, peak = memory(pid) if alive else (0.0, 0.0)
        print(f"after the soak: RSS {after:.1f} MB, {after - warm:+.1f} MB since warm-up; {totals}")
        if not alive:
            print("FAIL: the server died")
            ok = False
        elif after - warm > 20 and not args.sanitized:
            print("FAIL: RSS grew more than 20 MB")
            ok = False
    finally:
        code = server.stop()
    stderr = "".join(server.stderr)
    if code != 0:
        print(f"FAIL: the server exited with {code}")
        ok = False
    if "Sanitizer" in stderr:
        print("FAIL: sanitizer report:\n" + stderr[-5000:])
        ok = False
    print("soak passed" if ok else "soak failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
