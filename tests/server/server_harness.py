"""Helpers for the `lfm2 serve` script tests (Python stdlib only): make a generated model with the
LFM2 tokenizer and chat template, start / stop the server, and talk to it over HTTP (JSON and SSE).
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.environ.get("LFM2_PYTHON") or "/usr/bin/python3"
TEST_API_KEY = "sekrit-key"  # the key abuse_test.py / soak.py start their servers with


def make_model(work, shared, preset="tiny-moe", extra=()):
    """A generated checkpoint in work/<preset> with the shared tokenizer files copied in."""
    model = os.path.join(work, preset)
    args = [PYTHON, os.path.join(ROOT, "tools", "make_test_model.py"), "--out", model, "--preset", preset,
            "--seed", "5", "--quiet"] + list(extra)
    subprocess.run(args, check=True, capture_output=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(shared, "golden", "tokenizer", name), model)
    shutil.copy(os.path.join(shared, "golden", "chat", "templates", "LFM2-8B-A1B.jinja"),
                os.path.join(model, "chat_template.jinja"))
    return model


class Server:
    """`lfm2 serve --port 0 ...` in the background; .port once it listens."""

    def __init__(self, binary, model, *args):
        self.process = subprocess.Popen([binary, "serve", "--model", model, "--port", "0"] + list(args),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.wait(timeout=30)
            raise RuntimeError("server did not start: " + line + "".join(self.stderr))
        self.port = int(line.split("listening on http://127.0.0.1:")[1].split()[0])

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def request(port, method, path, body=None, headers=None, timeout=300):
    """One request on a fresh connection: (status, parsed JSON or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    connection.request(method, path, body=data, headers=headers or {"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def stream(port, path, body, timeout=300):
    """A streaming request: (status, [(arrival time, event JSON)], saw [DONE])."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("POST", path, body=json.dumps(dict(body, stream=True)),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        text = response.read().decode("utf-8", "replace")
        connection.close()
        return response.status, [json.loads(text)], False
    events, done = [], False
    for raw in response:
        line = raw.decode("utf-8").rstrip("\n")
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            continue
        events.append((time.monotonic(), json.loads(line[6:])))
    connection.close()
    return 200, events, done


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def temp_dir():
    return tempfile.mkdtemp(prefix="lfm2-serve-test-")
