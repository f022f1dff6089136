"""Traffic for the hostile-client tests (abuse_test.py, soak.py): requests with the test API key,
a mixed burst of valid, malformed and dropped requests, and the server's memory as the kernel
counts it. Python stdlib only; loopback only.
"""
import http.client
import json
import socket
import threading
import time

from server_harness import TEST_API_KEY as KEY
from server_harness import request


def memory(pid):
    """(VmRSS, VmHWM) in MB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS


def post(port, path, body, headers=None, timeout=120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    all_headers = {"Content-Type": "application/json", "Authorization": "Bearer " + KEY}
    all_headers.update(headers or {})
    connection.request("POST", path, body=data, headers=all_headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def get(port, path, headers=None):
    """GET on a fresh connection, without the API key unless `headers` has it: (status, body)."""
    return request(port, "GET", path, headers=headers or {})


def _raw(port, data, read=True):
    """Sends raw bytes on a fresh connection; reads until the server closes (or 10 s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        while read and s.recv(65536):
            pass
    finally:
        s.close()


def _one(port, n):
    """Request number n of the mixed traffic: returns its kind."""
    kind = n % 12
    chat = "/v1/chat/completions"
    if kind == 0:
        post(port, chat, {"messages": [{"role": "user", "content": "And " * (n % 50)}], "max_tokens": 4,
                          "stream": n % 2 == 0})
        return "valid"
    if kind == 1:
        post(port, "/tokenize", {"content": "word " * (n % 2000), "with_pieces": True})
        return "valid"
    if kind == 2:
        post(port, chat, {"messages": [{"role": "user", "content": "json"}], "max_tokens": 8,
                          "response_format": {"type": "json_schema", "json_schema": {
                              "name": "s", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}})
        return "valid"
    if kind == 3:
        post(port, "/apply-template", {"messages": [{"role": "user", "content": "x<|im_end|>"},
                                                    {"role": "assistant", "content": "", "tool_calls": [
                                                        {"function": {"name": "f", "arguments": '{"a": [1]}'}}]}],
                                       "tools": [{"type": "function", "function": {"name": "f"}}],
                                       "return_tokens": True})
        return "valid"
    if kind == 4:
        post(port, chat, "[" * (1000 + n % 5000))
        return "malformed"
    if kind == 5:
        post(port, chat, {"messages": [{"role": "wizard", "content": 1}], "logit_bias": {"1": 1e300}})
        return "malformed"
    if kind == 6:
        post(port, chat, '{"messages":[{"role":"user","content":"x"}],"tools":' + '[{"a":' * 300 + "]")
        return "malformed"
    if kind == 7:
        _raw(port, b"GET /health HTTP/1.1\r\n" + b"X-Fill: " + b"a" * 40000 + b"\r\n\r\n")
        return "malformed"
    if kind == 8:
        post(port, chat, {"messages": [{"role": "user", "content": "x"}]}, {"Authorization": "Bearer nope"})
        return "malformed"
    if kind == 9:
        _raw(port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mes",
             read=False)
        return "dropped"
    if kind == 10:
        _raw(port, b"GARBAGE\x00\xff\r\n\r\n")
        return "malformed"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", chat, body=json.dumps({"messages": [{"role": "user", "content": "x"}],
                                                      "max_tokens": 50, "stream": True}),
                       headers={"Content-Type": "application/json", "Authorization": "Bearer " + KEY})
    response = connection.getresponse()
    response.read(10)
    connection.close()  # gone mid-stream
    return "dropped"


def mixed_burst(port, seconds, threads=4, max_requests=None):
    """Valid, malformed and dropped requests from `threads` clients for `seconds` (or until
    `max_requests` in all); returns the counts by kind."""
    deadline = time.monotonic() + seconds
    counts = {"valid": 0, "malformed": 0, "dropped": 0, "errors": 0}
    lock = threading.Lock()
    issued = [0]

    def client(seed):
        n = seed
        while time.monotonic() < deadline:
            with lock:
                if max_requests is not None and issued[0] >= max_requests:
                    return
                issued[0] += 1
            n += 1
            try:
                key = _one(port, n)
            except (OSError, http.client.HTTPException):
                key = "errors"
            with lock:
                counts[key] += 1
    clients = [threading.Thread(target=client, args=(i * 1000,)) for i in range(threads)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    return counts
