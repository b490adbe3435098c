"""Shared pieces of the operator's Python integration tests
(test_operator_api.py, test_openapi.py): the failure count, psql, a free
port, kcat producing, and a minimal RFC 6455 WebSocket client. Standard
library only.
"""
import base64
import json
import os
import socket
import struct
import subprocess
import time


failures = 0


def check(cond, what):
    """Counts and prints a failed check; returns cond."""
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)
    return cond


def psql(dsn, sql):
    """sql's output (unaligned, tuples only), or RuntimeError naming it."""
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", dsn, "-c", sql],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"psql: {sql}: {r.stderr.strip()}")
    return r.stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def produce(brokers, topic, lines):
    """Produces ndjson lines keyed by their vehicle_id (kcat)."""
    data = "".join(f"{json.loads(l)['vehicle_id']}\t{l}\n" for l in lines)
    subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-K", "\t"], input=data,
                   text=True, check=True, capture_output=True)


class Ws:
    """A minimal RFC 6455 client: text messages and the close frame."""

    def __init__(self, port, path):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                       .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise RuntimeError("WebSocket handshake: connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"WebSocket handshake refused: {head[:80]!r}")
        self.close_code = None
        self.close_reason = ""

    def _read(self, n, deadline):
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.time()))
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_bytes(self, timeout=5):
        """The next text message's bytes, or None on timeout or close (then
        close_code and close_reason say why)."""
        deadline = time.time() + timeout
        msg = b""
        try:
            while True:
                b0, b1 = self._read(2, deadline)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._read(2, deadline))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._read(8, deadline))[0]
                payload = self._read(n, deadline)
                op = b0 & 0x0F
                if op == 8:
                    self.close_code = struct.unpack(">H", payload[:2])[0] if n >= 2 else 1005
                    self.close_reason = payload[2:].decode(errors="replace")
                    return None
                if op in (0, 1):
                    msg += payload
                    if b0 & 0x80:
                        return msg
        except (socket.timeout, EOFError, OSError):
            return None

    def recv(self, timeout=5):
        """The next text message parsed as JSON, or None."""
        m = self.recv_bytes(timeout)
        return json.loads(m) if m is not None else None

    def until(self, pred, timeout=5):
        """Messages until one satisfies pred; returns it (or None) and all seen."""
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.recv(deadline - time.time())
            if m is None:
                if self.close_code is not None:
                    break
                continue
            seen.append(m)
            if pred(m):
                return m, seen
        return None, seen

    def close(self):
        self.s.close()
