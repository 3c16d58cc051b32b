#!/usr/bin/python3
"""alerting_replay_deliver: `weighbridge replay --deliver --db` sends a replayed scenario's alerts
to a webhook, and a later run over the same --db resumes deliveries left pending by an outage.

Truth: the same replay's --alerts-out (every alert version must reach the receiver, each
Idempotency-Key "<id>:<version>" at least once, each signature verified with Python's hmac).
SKIPs (exit 77) while `weighbridge replay --help` does not offer --deliver.

usage: alerting_replay_deliver.py --binary WEIGHBRIDGE
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alerting_receiver as ar  # noqa: E402
import wbtest  # noqa: E402

SECRET = "replay-deliver-secret-31d7"
CONFIG = """site:
  inside: [10.0.0.0/8, 2001:db8:100::/48]
  tenants: [{name: research, prefixes: [10.30.0.0/16]}]
detect:
  weight_transfer: {min_size: 10MB}
  staging: {window: 1h, threshold: 5MB, storage: [10.20.0.0/24]}
alerts:
  webhooks:
    - {name: hook, url: "%s", secret_env: WB_TEST_SECRET, timeout: 2s}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    help_text = wbtest.help_text(args.binary, "replay")
    if "--deliver" not in help_text or "not available" in help_text:
        wbtest.skip("`weighbridge replay --help` does not offer --deliver yet (the lead wires it)")
    os.environ["WB_TEST_SECRET"] = SECRET
    f = wbtest.Failures()
    work = wbtest.temp_dir("wb-alerting-replay-")
    receivers = []
    try:
        cap = os.path.join(work, "edge-mix.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--snaplen", "80",
                        "--out", cap, "--truth", "none"], timeout=120)
        f.check(p.returncode == 0, "synth: " + p.stderr.decode()[-300:])
        tiny = os.path.join(work, "tiny.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "tiny", "--out", tiny,
                        "--truth", "none"], timeout=120)
        f.check(p.returncode == 0, "synth tiny: " + p.stderr.decode()[-300:])

        # 1. Receiver up: every version arrives.
        r = ar.Receiver(SECRET.encode())
        receivers.append(r)
        cfg = os.path.join(work, "config.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(CONFIG % r.url())
        alerts_out = os.path.join(work, "alerts.jsonl")
        p = wbtest.run([args.binary, "replay", cap, "--config", cfg, "--no-progress",
                        "--alerts-out", alerts_out, "--deliver", "--db",
                        os.path.join(work, "db1")], timeout=120)
        f.check(p.returncode == 0, "replay --deliver: rc %d: %s"
                % (p.returncode, p.stderr.decode()[-400:]))
        want = {"%s:%d" % (a["id"], a["version"]) for a in wbtest.load_jsonl(alerts_out)}
        f.check(len(want) >= 4, "the scenario raised only %d alert versions" % len(want))
        got = {q["headers"].get("idempotency-key") for q in r.accepted()}
        f.check(want <= got, "missing deliveries: %s" % sorted(want - got))
        f.check(all(q["sig_ok"] for q in r.all()), "a signature did not verify")
        print("replay --deliver: %d of %d alert versions delivered" % (len(want & got), len(want)),
              flush=True)

        # 2. Receiver down during the replay: the deliveries stay in --db; the next run resumes.
        port = ar.free_port()
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write(CONFIG % ("http://127.0.0.1:%d/hook" % port))
        db = os.path.join(work, "db2")
        # The receiver is down: wait only briefly; what is pending stays in the outbox.
        p = wbtest.run([args.binary, "replay", cap, "--config", cfg, "--no-progress", "--deliver",
                        "--deliver-wait", "3s", "--db", db], timeout=180)
        f.check(p.returncode in (0, 1), "replay --deliver, receiver down: rc %d: %s"
                % (p.returncode, p.stderr.decode()[-400:]))
        r2 = ar.Receiver(SECRET.encode(), port=port)
        receivers.append(r2)
        p = wbtest.run([args.binary, "replay", tiny, "--config", cfg, "--no-progress", "--deliver",
                        "--db", db], timeout=180)
        f.check(p.returncode == 0, "replay --deliver, resume: rc %d: %s"
                % (p.returncode, p.stderr.decode()[-400:]))
        got = {q["headers"].get("idempotency-key") for q in r2.accepted()}
        f.check(want <= got, "not resumed from --db: %s" % sorted(want - got))
        print("resume from --db: %d of %d delivered after the outage" % (len(want & got), len(want)),
              flush=True)
    finally:
        for r in receivers:
            r.close()
        wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
