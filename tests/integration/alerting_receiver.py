"""Loopback webhook receivers for the alerting integration tests (standard library only).

A Receiver is an HTTP(S) server on 127.0.0.1 that records every POST and checks its
X-Weighbridge-Signature with Python's own hmac, independently of the sender's code:
    X-Weighbridge-Signature: t=UNIX_SECONDS,v1=HEX,  HEX = HMAC-SHA256(secret, "<t>.<body>").
Its behaviour can change while it runs (answer 200, answer 500, answer late, hang up mid-request)
so that tests can stage receiver faults.
"""

import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import wbtest  # noqa: E402  (beside this file)


def verify_signature(secret, header, body, now=None, tolerance_s=300):
    """True when header is a valid signature of body (bytes) under secret, within tolerance."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    try:
        t = int(parts["t"])
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    want = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"])


def free_port():
    return wbtest.free_port()


def make_cert(workdir, name="cert", san="IP:127.0.0.1"):
    """A throwaway self-signed certificate from the openssl CLI; returns (cert, key) paths."""
    cert = os.path.join(workdir, name + ".pem")
    key = os.path.join(workdir, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=" + san],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return cert, key


class Receiver:
    """behaviour(index) -> ("ok"|"error"|"slow"|"hangup", arg) decides each answer."""

    def __init__(self, secret, port=0, tls=None, behaviour=None):
        self.secret = secret
        self.lock = threading.Lock()
        self.requests = []   # dicts: path, headers, body, json, sig_ok, answered
        self.attempts = 0    # every request seen, answered or not
        self.behaviour = behaviour or (lambda i: ("ok", 200))
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                with receiver.lock:
                    index = receiver.attempts
                    receiver.attempts += 1
                action, arg = receiver.behaviour(index)
                if action == "hangup":
                    # Close with the request half read: the sender sees a reset or EOF.
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    obj = json.loads(body)
                except ValueError:
                    obj = None
                rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "json": obj, "time": time.time(),
                       "sig_ok": verify_signature(receiver.secret,
                                                  self.headers.get("X-Weighbridge-Signature"),
                                                  body) if receiver.secret else None}
                status = arg if action in ("ok", "error") else 200
                if action == "slow":
                    time.sleep(arg)
                rec["status"] = status
                with receiver.lock:
                    receiver.requests.append(rec)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                except OSError:
                    pass  # the sender timed out and left
                self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/hook", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)

    def accepted(self):
        """Requests answered 2xx (what the sender may count as delivered)."""
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def all(self):
        with self.lock:
            return list(self.requests)

    def wait_for(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self):
                return True
            time.sleep(0.05)
        return pred(self)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
