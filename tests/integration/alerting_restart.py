#!/usr/bin/python3
"""alerting_restart: the sensor is killed (SIGKILL) with deliveries pending and started again
over the same durable outbox; every alert still arrives, at least once, with a valid signature.

The process is the test driver (alerting_delivery_driver: app::AlertDelivery, as the sensor
wires it) over (a) a directory outbox whose writes are fsynced, and (b) the history store
(RocksDB) when the build has it. Phase 1: 20 alerts, the receiver accepts 5 and then hangs up on
every request; the driver is killed once all 20 are in the outbox. Phase 2: the receiver works
again; a fresh driver with no new alerts resumes the 15 (or more) pending deliveries.
Truth: the driver's synthetic alert ids (0x5e00000000000000 + i), counted at the receiver.

usage: alerting_restart.py --binary WEIGHBRIDGE --driver ALERTING_DELIVERY_DRIVER
"""

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alerting_receiver as ar  # noqa: E402
import wbtest  # noqa: E402

SECRET = "restart-secret-9c4e"
N = 20


def wait_line(proc, needle, timeout):
    """Reads proc's stderr until a line contains needle; returns the text read (bounded)."""
    text = b""
    deadline = time.time() + timeout
    while time.time() < deadline and needle.encode() not in text:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            text += chunk
    return text.decode("utf-8", "replace")


def run_case(f, driver, work, outbox_args, label):
    os.environ["WB_TEST_SECRET"] = SECRET  # wbtest.run passes the environment on
    env = dict(os.environ)
    state = {"broken": False}

    def behaviour(i):
        if i >= 5:
            state["broken"] = True
        return ("hangup", 0) if state["broken"] else ("ok", 200)

    r = ar.Receiver(SECRET.encode(), behaviour=behaviour)
    cfg = os.path.join(work, "config-%s.yaml" % label)
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write("alerts:\n  webhooks:\n    - {name: hook, url: \"%s\", secret_env: WB_TEST_SECRET, "
                 "timeout: 2s}\n" % r.url())
    try:
        p = subprocess.Popen([driver, "--config", cfg, *outbox_args, "--synthetic", str(N),
                              "--initial-backoff-ms", "100", "--max-backoff-ms", "200",
                              "--wait-ms", "60000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            err = wait_line(p, "enqueued %d" % N, 30)
            f.check("enqueued %d" % N in err, "%s: the driver never enqueued: %s" % (label, err))
            # Let it deliver the first five and fail on the rest for a moment, then kill it.
            r.wait_for(lambda rr: rr.attempts >= 7, 10)
            f.check(p.poll() is None, "%s: the driver exited before the kill" % label)
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        before = {q["headers"]["idempotency-key"] for q in r.accepted()}
        f.check(len(before) == 5, "%s: %d accepted before the kill, want 5" % (label, len(before)))
        state["broken"] = False
        r.behaviour = lambda i: ("ok", 200)
        t0 = time.time()
        p = wbtest.run([driver, "--config", cfg, *outbox_args, "--wait-ms", "20000"], timeout=60)
        out = p.stdout.decode().strip().splitlines()
        rep = json.loads(out[-1]) if out else None
        f.check(p.returncode == 0 and rep and rep["enqueued"] == 0 and rep["delivered"] >= N - 5
                and rep["pending"] == 0,
                "%s: restart: rc %d report %r: %s" % (label, p.returncode, rep,
                                                      p.stderr.decode()[-400:]))
        f.check("resuming" in p.stderr.decode(), "%s: no 'resuming' log line" % label)
        want = {"%016x:1" % (0x5e00000000000000 + i) for i in range(1, N + 1)}
        got = {q["headers"]["idempotency-key"] for q in r.accepted()}
        f.check(got == want, "%s: missing after restart: %s" % (label, sorted(want - got)))
        f.check(all(q["sig_ok"] for q in r.all()), "%s: a signature did not verify" % label)
        dup = len(r.accepted()) - len(got)
        print("%s: killed with %d pending; restart delivered %s in %.2f s; all %d ids arrived "
              "(%d repeats)" % (label, N - len(before), rep and rep["delivered"],
                                time.time() - t0, len(got), dup), flush=True)
        # Nothing left to resume: a third start delivers nothing.
        p = wbtest.run([driver, "--config", cfg, *outbox_args, "--wait-ms", "2000"], timeout=60)
        out = p.stdout.decode().strip().splitlines()
        rep = json.loads(out[-1]) if out else None
        f.check(p.returncode == 0 and rep and rep["delivered"] == 0,
                "%s: third start delivered again: %r" % (label, rep))
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    if not os.access(args.driver, os.X_OK):
        wbtest.skip("test driver not built: %s" % args.driver)
    f = wbtest.Failures()
    work = wbtest.temp_dir("wb-alerting-restart-")
    try:
        run_case(f, args.driver, work, ["--outbox-dir", os.path.join(work, "outbox")],
                 "directory outbox")
        probe = wbtest.run([args.driver, "--config", "/dev/null", "--db",
                            os.path.join(work, "probe-db")], timeout=60)
        if b"no history store" in probe.stderr:
            print("NOTE: this build has no history store; the RocksDB outbox case was not run",
                  flush=True)
        else:
            run_case(f, args.driver, work, ["--db", os.path.join(work, "db")], "history outbox")
    finally:
        wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
