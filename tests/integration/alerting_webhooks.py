#!/usr/bin/python3
"""alerting_webhooks: alert delivery to real webhook receivers on loopback, through faults.

Receivers are Python http.server instances (alerting_receiver.py) that check every
X-Weighbridge-Signature with Python's own hmac. Alerts are fed by the test driver
(alerting_delivery_driver: app::AlertDelivery over a durable outbox) and by
`weighbridge alerts test`. Each case checks, from what the receiver recorded, that every alert id
arrived at least once with a valid signature and the right Idempotency-Key:
- plain delivery (secret from a file; custom header; schema header);
- the receiver answers 500 a few times; is down for a while, then up; answers slower than the
  timeout; hangs up mid-request;
- HTTPS with a certificate the sender trusts (SSL_CERT_FILE), one it does not (self-signed:
  clear error, nothing delivered, dead-lettered at max age) and one for another host name;
- `alerts test`: one line per receiver, exit status, a missing secret named.

usage: alerting_webhooks.py --binary WEIGHBRIDGE --driver ALERTING_DELIVERY_DRIVER
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alerting_receiver as ar  # noqa: E402
import wbtest  # noqa: E402

SECRET = "whsec-5f1b2e9a-test-only"


def write_config(work, url, secret_line, timeout="2s", name="config.yaml"):
    path = os.path.join(work, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("alerts:\n  webhooks:\n    - name: hook\n      url: %s\n      %s\n"
                 "      timeout: %s\n      headers: {X-Test: from-config}\n"
                 % (url, secret_line, timeout))
    return path


def run_driver(driver, config, extra, env=None, timeout=60):
    p = subprocess.run([driver, "--config", config, *extra], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=env, check=False)
    out = p.stdout.decode("utf-8", "replace").strip().splitlines()
    report = None
    if out:
        try:
            report = json.loads(out[-1])
        except ValueError:
            pass
    return p.returncode, report, p.stderr.decode("utf-8", "replace")


def base_env(**extra):
    env = dict(os.environ)
    env["WB_TEST_SECRET"] = SECRET
    env.pop("SSL_CERT_FILE", None)
    env.update(extra)
    return env


def synthetic_ids(n):
    # The driver's synthetic alerts: ids 0x5e00000000000000 + i, version 1.
    return {"%016x:1" % (0x5e00000000000000 + i) for i in range(1, n + 1)}


def check_arrivals(f, what, receiver, want_keys):
    """Every wanted Idempotency-Key was accepted at least once, each with a valid signature
    and a key that matches the body's id and version."""
    got = receiver.accepted()
    keys = {r["headers"].get("idempotency-key") for r in got}
    f.check(want_keys <= keys, "%s: missing deliveries %s (got %s)"
            % (what, sorted(want_keys - keys), sorted(k for k in keys if k)))
    for r in receiver.all():
        f.check(r["sig_ok"] is True, "%s: bad signature %r on %r"
                % (what, r["headers"].get("x-weighbridge-signature"), r["body"][:80]))
        body = r["json"] or {}
        f.check(r["headers"].get("idempotency-key") == "%s:%s" % (body.get("id"), body.get("version")),
                "%s: Idempotency-Key %r does not match the body's id/version"
                % (what, r["headers"].get("idempotency-key")))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    if not os.access(args.driver, os.X_OK):
        wbtest.skip("test driver not built: %s" % args.driver)
    if subprocess.run(["openssl", "version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, check=False).returncode != 0:
        wbtest.skip("the openssl command is needed to make test certificates")
    have_alerts_cmd = "alerts test" in wbtest.help_text(args.binary, "alerts")
    f = wbtest.Failures()
    work = wbtest.temp_dir("wb-alerting-webhooks-")
    receivers = []
    key = SECRET.encode()
    fast = ["--initial-backoff-ms", "50", "--max-backoff-ms", "300", "--wait-ms", "20000"]

    def receiver(**kw):
        r = ar.Receiver(key, **kw)
        receivers.append(r)
        return r

    try:
        # 1. Plain delivery; the secret from a file that ends in a newline (not part of it).
        secret_file = os.path.join(work, "secret")
        with open(secret_file, "w", encoding="utf-8") as fh:
            fh.write(SECRET + "\n")
        r = receiver()
        cfg = write_config(work, r.url(), "secret_file: " + secret_file)
        t0 = time.time()
        rc, rep, err = run_driver(args.driver, cfg, ["--synthetic", "6", *fast], env=base_env())
        f.check(rc == 0 and rep and rep["delivered"] == 6,
                "plain: driver rc %d report %r: %s" % (rc, rep, err[-500:]))
        got = check_arrivals(f, "plain", r, synthetic_ids(6))
        f.check(len(got) == 6, "plain: %d requests for 6 alerts on a healthy receiver" % len(got))
        for q in got:
            f.check(q["headers"].get("x-test") == "from-config", "plain: custom header missing")
            f.check(q["headers"].get("x-weighbridge-schema-version") == "1",
                    "plain: schema version header %r" % q["headers"].get("x-weighbridge-schema-version"))
            f.check(q["headers"].get("content-type") == "application/json", "plain: content type")
            f.check(q["json"] and q["json"].get("kind") == "weight_transfer"
                    and q["json"].get("state") == "active", "plain: body %r" % q["body"][:120])
        print("plain: 6 alerts delivered and verified in %.2f s" % (time.time() - t0), flush=True)

        # 2. The receiver answers 500 four times, then recovers.
        r = receiver(behaviour=lambda i: ("error", 500) if i < 4 else ("ok", 200))
        cfg = write_config(work, r.url(), "secret_env: WB_TEST_SECRET")
        rc, rep, err = run_driver(args.driver, cfg, ["--synthetic", "3", *fast], env=base_env())
        f.check(rc == 0 and rep and rep["delivered"] == 3 and rep["retries"] >= 4,
                "500s: rc %d report %r: %s" % (rc, rep, err[-500:]))
        check_arrivals(f, "500s", r, synthetic_ids(3))
        f.check(r.attempts >= 7, "500s: only %d attempts" % r.attempts)
        f.check("HTTP 500" in err, "500s: no log line naming the failure: %s" % err[-300:])
        print("500s: delivered after %d attempts" % r.attempts, flush=True)

        # 3. The receiver is down for a while, then comes up on its port.
        port = ar.free_port()
        cfg = write_config(work, "http://127.0.0.1:%d/hook" % port, "secret_env: WB_TEST_SECRET")
        p = subprocess.Popen([args.driver, "--config", cfg, "--synthetic", "4",
                              "--initial-backoff-ms", "100", "--max-backoff-ms", "400",
                              "--wait-ms", "20000"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=base_env())
        try:
            time.sleep(1.5)
            f.check(p.poll() is None, "down: the driver gave up while the receiver was down")
            r = receiver(port=port)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        rep = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else None
        f.check(p.returncode == 0 and rep and rep["delivered"] == 4,
                "down: rc %s report %r: %s" % (p.returncode, rep, err.decode()[-500:]))
        check_arrivals(f, "down-then-up", r, synthetic_ids(4))
        f.check("Connection refused" in err.decode() or "refused" in err.decode(),
                "down: the log does not say the connection was refused: %s" % err.decode()[-300:])
        print("down-then-up: 4 alerts delivered once the receiver came up", flush=True)

        # 4. Slower than the timeout (300 ms) twice: the sender gives up on those attempts.
        r = receiver(behaviour=lambda i: ("slow", 1.0) if i < 2 else ("ok", 200))
        cfg = write_config(work, r.url(), "secret_env: WB_TEST_SECRET", timeout="300ms")
        rc, rep, err = run_driver(args.driver, cfg, ["--synthetic", "2", *fast], env=base_env())
        f.check(rc == 0 and rep and rep["delivered"] == 2 and rep["retries"] >= 2,
                "slow: rc %d report %r: %s" % (rc, rep, err[-500:]))
        check_arrivals(f, "slow", r, synthetic_ids(2))
        f.check("no response" in err and "within 300 ms" in err,
                "slow: the log does not name the timeout: %s" % err[-300:])
        print("slow: delivered after %d attempts (2 timed out)" % r.attempts, flush=True)

        # 5. The receiver hangs up mid-request three times.
        r = receiver(behaviour=lambda i: ("hangup", 0) if i < 3 else ("ok", 200))
        cfg = write_config(work, r.url(), "secret_env: WB_TEST_SECRET")
        rc, rep, err = run_driver(args.driver, cfg, ["--synthetic", "2", *fast], env=base_env())
        f.check(rc == 0 and rep and rep["delivered"] == 2 and rep["retries"] >= 3,
                "hangup: rc %d report %r: %s" % (rc, rep, err[-500:]))
        check_arrivals(f, "hangup", r, synthetic_ids(2))
        print("hangup: delivered after %d attempts (3 hung up)" % r.attempts, flush=True)

        # 6. HTTPS: a self-signed certificate the sender does not trust.
        cert, certkey = ar.make_cert(work)
        r = receiver(tls=(cert, certkey))
        cfg = write_config(work, r.url(scheme="https"), "secret_env: WB_TEST_SECRET")
        rc, rep, err = run_driver(args.driver, cfg,
                                  ["--synthetic", "2", "--initial-backoff-ms", "100",
                                   "--max-backoff-ms", "300", "--max-age-ms", "1200",
                                   "--wait-ms", "10000"], env=base_env())
        f.check(rc == 3 and rep and rep["delivered"] == 0 and rep["dead"] == 2,
                "bad cert: rc %d report %r: %s" % (rc, rep, err[-500:]))
        f.check(not r.all(), "bad cert: %d requests reached the receiver" % len(r.all()))
        f.check("certificate verification failed" in err and "self-signed" in err,
                "bad cert: no clear error: %s" % err[-400:])
        f.check(err.count("dead letter: alert") == 2, "bad cert: not one dead-letter line each")
        if have_alerts_cmd:
            p = subprocess.run([args.binary, "alerts", "test", "--config", cfg],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env(),
                               timeout=60, check=False)
            out = p.stdout.decode()
            f.check(p.returncode == 1 and "FAILED" in out and "self-signed certificate" in out
                    and not r.all(),
                    "alerts test, bad cert: rc %d: %s" % (p.returncode, out + p.stderr.decode()))
            print("alerts test, bad cert: " + out.strip(), flush=True)
        print("bad cert: nothing delivered, 2 dead letters: "
              + next((l for l in err.splitlines() if "certificate" in l), "")[:200], flush=True)

        # 7. The same certificate, trusted: delivered, over TLS, signatures valid.
        env = base_env(SSL_CERT_FILE=cert)
        rc, rep, err = run_driver(args.driver, cfg, ["--synthetic", "2", *fast], env=env)
        f.check(rc == 0 and rep and rep["delivered"] == 2,
                "https: rc %d report %r: %s" % (rc, rep, err[-500:]))
        check_arrivals(f, "https", r, synthetic_ids(2))
        if have_alerts_cmd:
            before = len(r.accepted())
            p = subprocess.run([args.binary, "alerts", "test", "--config", cfg],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=60, check=False)
            out = p.stdout.decode()
            f.check(p.returncode == 0 and out.count("\n") == 1 and ": ok (" in out,
                    "alerts test, https: rc %d: %s" % (p.returncode, out + p.stderr.decode()))
            new = r.accepted()[before:]
            f.check(len(new) == 1 and new[0]["sig_ok"] and new[0]["json"]["kind"] == "test",
                    "alerts test: the receiver got %r" % [(q["sig_ok"], q["body"][:80]) for q in new])
            print("alerts test, https: " + out.strip(), flush=True)
        print("https: delivered with a trusted certificate", flush=True)

        # 8. A trusted certificate for another name.
        other, otherkey = ar.make_cert(work, "other", san="DNS:receiver.invalid")
        r = receiver(tls=(other, otherkey))
        cfg = write_config(work, r.url(scheme="https"), "secret_env: WB_TEST_SECRET")
        rc, rep, err = run_driver(args.driver, cfg,
                                  ["--synthetic", "1", "--initial-backoff-ms", "100",
                                   "--max-age-ms", "600", "--wait-ms", "8000"],
                                  env=base_env(SSL_CERT_FILE=other))
        f.check(rc == 3 and rep and rep["delivered"] == 0 and not r.all(),
                "wrong name: rc %d report %r" % (rc, rep))
        f.check("not for 127.0.0.1" in err, "wrong name: no clear error: %s" % err[-300:])

        # 9. alerts test with its secret missing: one FAILED line naming the variable.
        if have_alerts_cmd:
            r = receiver()
            cfg = write_config(work, r.url(), "secret_env: WB_TEST_SECRET_UNSET")
            p = subprocess.run([args.binary, "alerts", "test", "--config", cfg],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env(),
                               timeout=60, check=False)
            out = p.stdout.decode()
            f.check(p.returncode == 1 and "WB_TEST_SECRET_UNSET" in out and not r.all(),
                    "alerts test, no secret: rc %d: %s" % (p.returncode, out))
        else:
            print("NOTE: `weighbridge alerts test` is not in this binary; its checks were not run",
                  flush=True)
    finally:
        for r in receivers:
            r.close()
        wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
