#!/usr/bin/python3
"""run_daemon: `weighbridge run` as a service, on synthetic traffic (no root, no network).

The generator's `bulk-upload` scenario (a 1 GB 8-stream upload) is a config source of type synth,
paced in real time as a live link would be. Checks:
1. a bad config exits 2 naming the key; `run` without sources exits 2;
2. /health answers 200 with JSON while capturing; /live 200; an unknown path 404;
3. the alert log gets a weight_transfer alert for the upload while the daemon runs, with the
   generator's payload total once it has ended (after SIGTERM: every flow and transfer flushed);
4. SIGHUP re-reads the config: a broken one is refused (logged) with the running one kept, a good
   one is applied (logged); a threshold changed while traffic flows is tested end to end in
   tests/e2e (live capture);
5. SIGTERM: exit 0 within a bounded time, the last log line ("stopped") reports the packets read;
   every log line is JSON with --log-format json.

usage: run_daemon.py --binary PATH
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


CONFIG = """site:
  inside: [10.0.0.0/8]
capture:
  - {{type: synth, scenario: {scenario}}}
detect:
  weight_transfer: {{min_size: {min_size}, gap: 2s}}
metrics: {{listen: "127.0.0.1:{metrics}", health_listen: "127.0.0.1:{health}"}}
alerts: {{log: {log}}}
pipeline: {{idle_timeout: 1s, active_timeout: 1s}}
daemon: {{stats_interval: 1s}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    wbtest.require_binary(args.binary)
    if "--config" not in wbtest.help_text(args.binary, "run"):
        wbtest.skip("`weighbridge run --help` does not offer --config")
    failures = wbtest.Failures()
    check = failures.check
    work = wbtest.temp_dir("wb-run-")
    proc = None
    try:
        # Ground truth: the generator's own flows for the scenario.
        pcap = os.path.join(work, "bulk.pcap")
        p = wbtest.run([args.binary, "synth", "--scenario", "bulk-upload", "--out", pcap,
                        "--snaplen", "96"], timeout=120)
        check(p.returncode == 0, "synth failed: %s" % p.stderr.decode()[-300:])
        truth = wbtest.load_jsonl(pcap + ".truth.jsonl")
        upload = sum(f["a_to_b_payload_bytes"] for f in truth
                     if f["a"].startswith("10.30.1.10") and f["b"].startswith("203.0.113.50"))
        check(upload > 900_000_000, "truth upload %d" % upload)

        # 0. The same config replayed: short idle timeouts (1 s) and a close linger (5 s) longer
        # than them must still give one transfer for the 8 streams (a flow's first update can
        # come active + max(idle, linger) after its first packet).
        metrics0, health0 = wbtest.free_port(), wbtest.free_port()
        cfg0 = os.path.join(work, "replay.yaml")
        with open(cfg0, "w", encoding="utf-8") as fh:
            fh.write(CONFIG.format(scenario="bulk-upload", min_size="100MB", metrics=metrics0,
                                   health=health0, log=os.path.join(work, "unused.jsonl")))
        t_out = os.path.join(work, "transfers.jsonl")
        p = wbtest.run([args.binary, "replay", pcap, "--config", cfg0, "--transfers-out", t_out,
                        "--no-progress"], timeout=120)
        check(p.returncode == 0, "replay: %s" % p.stderr.decode()[-300:])
        ups = [t for t in wbtest.load_jsonl(t_out) if t.get("inside") == "10.30.1.10"
               and str(t.get("external", "")).startswith("203.0.113.")]
        check(len(ups) == 1 and ups[0].get("flows") == 8,
              "replay: the 8-stream upload came out as %r" % [(t.get("flows"), t.get("id"))
                                                             for t in ups])

        # 1. bad configs
        bad = os.path.join(work, "bad.yaml")
        with open(bad, "w", encoding="utf-8") as fh:
            fh.write("capture:\n  - {type: synth, scenario: tiny}\ndaemon: {log_format: xml}\n")
        p = wbtest.run([args.binary, "run", "--config", bad], timeout=30)
        check(p.returncode == 2 and b"daemon.log_format" in p.stderr,
              "bad log_format: exit %d, %r" % (p.returncode, p.stderr[-200:]))
        with open(bad, "w", encoding="utf-8") as fh:
            fh.write("site: {inside: [10.0.0.0/8]}\n")
        p = wbtest.run([args.binary, "run", "--config", bad], timeout=30)
        check(p.returncode == 2 and b"no sources" in p.stderr,
              "no sources: exit %d, %r" % (p.returncode, p.stderr[-200:]))

        # 2-5. the daemon
        metrics, health = wbtest.free_port(), wbtest.free_port()
        log = os.path.join(work, "alerts.jsonl")
        cfg = os.path.join(work, "run.yaml")

        def write_config(min_size):
            with open(cfg, "w", encoding="utf-8") as fh:
                fh.write(CONFIG.format(scenario="bulk-upload", min_size=min_size, metrics=metrics,
                                       health=health, log=log))

        write_config("100MB")
        stderr_path = os.path.join(work, "stderr.log")
        err = open(stderr_path, "wb")
        proc = subprocess.Popen([args.binary, "run", "--config", cfg, "--log-format", "json"],
                                stdout=subprocess.DEVNULL, stderr=err)
        base = "http://127.0.0.1:%d" % health
        status, body = wbtest.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            http_get(base + "/health")), 10) or (None, "")
        check(status == 200, "/health never answered 200: %r %r" % (status, body))
        if status == 200:
            h = json.loads(body)
            check(h.get("state") == "running" and h.get("sources") == 1,
                  "/health body: %r" % h)
        check(http_get(base + "/live")[0] == 200, "/live is not 200")
        check(http_get(base + "/nope")[0] == 404, "/nope is not 404")

        def alerts():
            return wbtest.load_jsonl(log) if os.path.exists(log) else []

        # The upload (1 GB at 10 Gbit/s) is over within a few seconds of stream time.
        got = wbtest.wait_for(lambda: [a for a in alerts() if a["kind"] == "weight_transfer"], 30)
        check(bool(got), "no weight_transfer alert in the alert log while running")
        if got:
            check(got[0]["state"] == "active" and got[0]["inside"] == "10.30.1.10",
                  "first alert: %r" % got[0])
        # Transfers end on silence (gap 2 s + timeouts): the ended version comes while running.
        ended = wbtest.wait_for(lambda: [a for a in alerts() if a["kind"] == "weight_transfer"
                                  and a["state"] == "ended"], 30)
        check(bool(ended), "the upload's alert never ended while the link was silent")
        if ended:
            check(ended[-1]["payload_bytes"] == upload, "ended alert payload %d, truth %d" % (
                ended[-1]["payload_bytes"], upload))

        # 4. SIGHUP: a broken config is refused; the running one stays.
        with open(cfg, "w", encoding="utf-8") as fh:
            fh.write("detect: {weight_transfer: {min_size: 1 G}}\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        check(proc.poll() is None, "the daemon died on a bad reload")
        write_config("100MB")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)

        # 5. SIGTERM
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        check(rc == 0, "exit code after SIGTERM: %r" % rc)
        check(took < 10, "SIGTERM took %.1f s" % took)
        err.close()
        with open(stderr_path, encoding="utf-8") as fh:
            lines = [line for line in fh.read().splitlines() if line.strip()]
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                failures.fail("not a JSON log line: %r" % line[:200])
        events = [e.get("event") for e in parsed]
        check("reload_refused" in events, "no reload_refused line for the broken config")
        check("reload" in events, "no reload line for the good config")
        stopped = [e for e in parsed if e.get("event") == "stopped"]
        check(len(stopped) == 1, "stopped lines: %d" % len(stopped))
        if stopped:
            want = sum(f["a_to_b_packets"] + f["b_to_a_packets"] for f in truth)
            check(int(stopped[0].get("packets", -1)) == want,
                  "stopped line reports %r packets, the generator made %d"
                  % (stopped[0].get("packets"), want))
            check(int(stopped[0].get("dropped", -1)) == 0, "dropped: %r" % stopped[0])
        print("run: health ok, %d alert lines, events %s, SIGTERM in %.2f s"
              % (len(alerts()), sorted(set(e for e in events if e)), took))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        wbtest.remove_dir(work)
    failures.finish()


if __name__ == "__main__":
    main()
