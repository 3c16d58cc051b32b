#!/usr/bin/python3
"""alerting_alertmanager: a real Alertmanager (Debian's prometheus-alertmanager) receives the
alerts of a replayed scenario and forwards them to a webhook receiver; the test checks what
arrived there against the replay's own --alerts-out (which alerts exist, with which kind, inside
host and final state).

Scenario: edge-mix with weight_transfer.min_size 10MB (its 20 MB upload by 10.30.1.10 alerts)
and staging at 5 MB an hour into 10.20.0.0/24 (10.30.3.5's copy alerts). The driver feeds the
versions 1.2 s apart, as a live sensor would raise them, so that Alertmanager sees each alert
fire before it ends. Expected at the webhook: for every alert id, a "firing" notification and
then a "resolved" one, with the routing labels (alertname, kind, severity, tenant, site,
sensor, alert_id) and the inside host as an annotation.

usage: alerting_alertmanager.py --binary WEIGHBRIDGE --driver ALERTING_DELIVERY_DRIVER
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alerting_receiver as ar  # noqa: E402
import wbtest  # noqa: E402

CONFIG = """site:
  inside: [10.0.0.0/8, 2001:db8:100::/48]
  tenants: [{name: research, prefixes: [10.30.0.0/16]}]
detect:
  weight_transfer: {min_size: 10MB, catalog: "%s"}
  staging: {window: 1h, threshold: 5MB, storage: [10.20.0.0/24]}
alerts:
  alertmanager:
    - {url: "http://127.0.0.1:%d/", timeout: 5s}
"""

CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                       "models.yaml")

AM_CONFIG = """route:
  receiver: hook
  group_by: [alert_id]
  group_wait: 500ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:%d/am
        send_resolved: true
"""


def find_alertmanager():
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    return None


def wait_ready(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if not os.access(args.driver, os.X_OK):
        wbtest.skip("test driver not built: %s" % args.driver)
    am_bin = find_alertmanager()
    if not am_bin:
        wbtest.skip("prometheus-alertmanager is not installed (scripts/deps)")
    f = wbtest.Failures()
    work = wbtest.temp_dir("wb-alerting-am-")
    hook = None
    am = None
    try:
        # Ground truth for which alerts exist: the replay's own --alerts-out of the scenario.
        cap = os.path.join(work, "edge-mix.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "edge-mix", "--snaplen", "80",
                        "--out", cap, "--truth", "none"], timeout=120)
        if p.returncode != 0:
            f.fail("synth: " + p.stderr.decode()[-300:])
            f.finish()
        hook = ar.Receiver(None)
        am_port = ar.free_port()
        cfg = os.path.join(work, "config.yaml")
        with open(cfg, "w", encoding="utf-8") as fh:
            # The catalog by absolute path: the driver is not where the binary looks for config/.
            fh.write(CONFIG % (CATALOG, am_port))
        alerts_out = os.path.join(work, "alerts.jsonl")
        p = wbtest.run([args.binary, "replay", cap, "--config", cfg, "--no-progress",
                        "--alerts-out", alerts_out], timeout=120)
        f.check(p.returncode == 0, "replay: " + p.stderr.decode()[-300:])
        versions = wbtest.load_jsonl(alerts_out)
        final = {}
        for a in versions:
            final[a["id"]] = a
        kinds = sorted(a["kind"] for a in final.values())
        if not f.check(kinds == ["staging_ingest", "weight_transfer"],
                       "the scenario should raise one weight_transfer and one staging_ingest "
                       "alert, got %s" % kinds):
            f.finish()

        am_yml = os.path.join(work, "alertmanager.yml")
        with open(am_yml, "w", encoding="utf-8") as fh:
            fh.write(AM_CONFIG % hook.port)
        am_log = open(os.path.join(work, "alertmanager.log"), "wb")
        am = subprocess.Popen([am_bin, "--config.file=" + am_yml,
                               "--storage.path=" + os.path.join(work, "am-data"),
                               "--web.listen-address=127.0.0.1:%d" % am_port,
                               "--cluster.listen-address="],
                              stdout=am_log, stderr=subprocess.STDOUT)
        if not wait_ready(am_port, am):
            am_log.flush()
            with open(os.path.join(work, "alertmanager.log"), encoding="utf-8",
                      errors="replace") as fh:
                f.fail("alertmanager did not become ready: " + fh.read()[-500:])
            f.finish()

        t0 = time.time()
        p = wbtest.run([args.driver, "--config", cfg, "--capture", cap, "--pace-ms", "1200",
                        "--wait-ms", "20000", "--initial-backoff-ms", "200"], timeout=90)
        out = p.stdout.decode().strip().splitlines()
        rep = json.loads(out[-1]) if out else None
        f.check(p.returncode == 0 and rep and rep["enqueued"] == len(versions)
                and rep["delivered"] == len(versions),
                "driver: rc %d report %r (%d versions): %s"
                % (p.returncode, rep, len(versions), p.stderr.decode()[-400:]))

        def statuses(r):
            seen = {}
            for q in r.all():
                for a in (q["json"] or {}).get("alerts", []):
                    seen.setdefault(a["labels"].get("alert_id"), set()).add(a["status"])
            return seen

        ok = hook.wait_for(lambda r: all({"firing", "resolved"} <= statuses(r).get(i, set())
                                         for i in final), 30)
        f.check(ok, "Alertmanager forwarded %r; want firing and resolved for %s"
                % (statuses(hook), sorted(final)))
        for q in hook.all():
            for a in (q["json"] or {}).get("alerts", []):
                labels = a["labels"]
                truth = final.get(labels.get("alert_id"))
                if not f.check(truth is not None, "unknown alert forwarded: %r" % labels):
                    continue
                want = {"kind": truth["kind"], "severity": truth["severity"],
                        "site": "test-site", "sensor": "test-sensor",
                        "alertname": "Weighbridge" + "".join(w.capitalize()
                                                             for w in truth["kind"].split("_"))}
                if truth["tenant"]:
                    want["tenant"] = truth["tenant"]
                for k, v in want.items():
                    f.check(labels.get(k) == v, "label %s=%r, want %r (alert %s)"
                            % (k, labels.get(k), v, truth["id"]))
                f.check(a["annotations"].get("inside") == truth["inside"],
                        "annotation inside=%r, want %r" % (a["annotations"].get("inside"),
                                                           truth["inside"]))
        # `alerts test` against the same Alertmanager: accepted, and Alertmanager holds it.
        p = wbtest.run([args.binary, "alerts", "test", "--config", cfg], timeout=60)
        out = p.stdout.decode()
        f.check(p.returncode == 0 and out.startswith("alertmanager http://127.0.0.1:%d/: ok"
                                                     % am_port),
                "alerts test: rc %d: %s" % (p.returncode, out + p.stderr.decode()))
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v2/alerts" % am_port,
                                    timeout=5) as resp:
            held = json.load(resp)
        f.check(any(a["labels"].get("kind") == "test" and a["labels"].get("severity") == "info"
                    for a in held), "Alertmanager does not hold the test alert: %r" % held)
        print("Alertmanager forwarded %d notifications for %d alerts (%s) in %.1f s"
              % (len(hook.all()), len(final), ", ".join(kinds), time.time() - t0), flush=True)
    finally:
        if am is not None:
            am.terminate()
            try:
                am.wait(timeout=10)
            except subprocess.TimeoutExpired:
                am.kill()
                am.wait()
        if hook is not None:
            hook.close()
        wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
