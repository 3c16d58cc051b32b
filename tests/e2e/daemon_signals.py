#!/usr/bin/python3
"""daemon_signals: SIGHUP changes a threshold while traffic flows; SIGTERM in the middle of a
transfer flushes it and exits 0 in bounded time.

One daemon (libpcap on the dc end of a veth, as in daemon_iperf.py), two rate-limited iperf3
uploads (8 streams x 40 Mbit/s, -w 128K) to two external peers in different /24s:

1. SIGHUP. The daemon starts with detect.weight_transfer.min_size = 1TiB, so nothing can alert.
   While the first upload (160 MiB, about 4 s) runs, the test rewrites the config with
   min_size = 64MiB and sends SIGHUP. Asserted: a "reload" log line (nothing outside the
   detectors changed, so not_applied_until_restart is "none"), then "reload_applied"; no alert
   before it; after it, while the daemon still runs (not at the shutdown flush), a
   weight_transfer alert for that upload whose threshold_bytes is the new 64 MiB. Before that,
   a config with a bad value is refused ("reload_refused", the daemon keeps running), and the
   alert log, renamed away before the good SIGHUP, is reopened under its name (rotation): the
   alert lands in the new file and nothing in the old one.
2. SIGTERM. A second upload (1 GiB, would take ~27 s) runs for 3 s; the test reads the dc veth's
   kernel counters, sends SIGTERM, and reads them again once the daemon has exited. Asserted:
   exit 0 within 10 s; a "stopped" line; the flushed (ended) alert for that upload counts L3
   bytes B with  L3(at SIGTERM) - LAG <= B <= L3(after exit), where L3 is the kernel's tx bytes
   minus 14 per frame since the upload started. LAG covers frames still in the capture buffer
   when the capture stops (the daemon does not drain it): at 40 MB/s, 2 MiB is 50 ms of traffic,
   five times the 10 ms poll timeout; measured here: B = L3(at SIGTERM) - 28, i.e. the one ARP
   frame in the kernel's count, so nothing was lost at the stop.
   When `run` writes history (it logs "history" at start; being wired), SIGTERM saves open
   transfers for the next start rather than ending them, so the check moves to the history:
   the transfer in `weighbridge history transfers` has sent_bytes within the same bounds and
   sent_packets within the kernel's frame counts (less LAG / 1514), and the alert's latest
   version is not above it; otherwise that part is skipped with a message.

usage: daemon_signals.py --binary PATH
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_lib as d  # noqa: E402

HUP_PEER = "198.51.100.2"
TERM_PEER = "192.0.2.2"
RATE = "40M"  # per stream; 8 streams
LAG_BYTES = 2 << 20
MIN_AFTER = 64 << 20


def tx(topo):
    stat = "/sys/class/net/%s/statistics/" % topo.dc_if
    p = d.sh(topo.ns_cmd(topo.dc, "cat", stat + "tx_bytes", stat + "tx_packets"))
    b, n = (int(x) for x in p.stdout.split())
    return b, n


def l3_since(start, now):
    return (now[0] - start[0]) - 14 * (now[1] - start[1]), now[1] - start[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    d.wbtest.require_binary(args.binary)
    d.require_root_tools("iperf3", "ethtool", "curl", "taskset")
    with_history_cmd = d.history_command(args.binary)

    f = d.Failures()
    work = d.wbtest.temp_dir("wb-e2e-signals-")
    daemon = None
    runs = []
    try:
        with d.Topology("s", [HUP_PEER, TERM_PEER]) as topo:
            # history.path is set whenever the build can read it back; a `run` that does not
            # write history yet ignores it (and logs no "history" event).
            db = os.path.join(work, "history") if with_history_cmd else None

            def config(min_size):
                # Short timeouts so that flow updates, and so alerts, come within seconds.
                return d.base_config(work, d.pcap_config(topo.dc_if), min_size=min_size,
                                     idle_timeout="2s", history=db).replace(
                                         "active_timeout: 60s", "active_timeout: 2s")

            daemon = d.Daemon(args.binary, topo.dc, work, config("1TiB"), cpus="0")
            daemon.start()
            with_history = db is not None and d.output_wired(daemon, "history")

            # ---- 1. SIGHUP while the first upload runs
            run1 = d.IperfRun(topo, topo.dc, topo.out, HUP_PEER, 160 << 20,
                              rate_per_stream=RATE, cpu=1)
            runs.append(run1)
            time.sleep(1.5)
            f.check(run1.client.poll() is None, "the first upload was still running at SIGHUP")
            f.check(not daemon.alerts(), "no alert before the reload (min_size 1TiB)")
            # A config that does not load is refused and the running one kept.
            daemon.write_config(config("64MiB").replace("min_size: 64MiB", "min_size: lots"))
            daemon.hup()
            refused = daemon.wait_event("reload_refused", timeout=10)
            f.check(refused, "a \"reload_refused\" line for a config with a bad value")
            f.check(daemon.proc.poll() is None, "the daemon still runs after a refused reload")
            # Rotation: the log is renamed away; SIGHUP reopens it under its configured name.
            rotated = daemon.alerts_path + ".1"
            os.rename(daemon.alerts_path, rotated)
            f.check(run1.client.poll() is None, "the first upload still runs at the good SIGHUP")
            daemon.write_config(config("64MiB"))
            daemon.hup()
            reload = daemon.wait_event("reload", timeout=10)
            applied = daemon.wait_event("reload_applied", timeout=10)
            f.check(len(reload) == 1, "one \"reload\" log line (got %d)" % len(reload))
            if reload:
                f.check(reload[0].get("not_applied_until_restart") == "none",
                        "reload: not_applied_until_restart is %r (want \"none\")"
                        % reload[0].get("not_applied_until_restart"))
            f.check(len(applied) == 1, "one \"reload_applied\" log line (got %d)" % len(applied))
            f.check(os.path.exists(daemon.alerts_path),
                    "SIGHUP reopened the alert log under its configured name")
            alerts_at_reload = daemon.alerts()
            f.check(not alerts_at_reload, "no alert when the reload was applied: %s"
                    % alerts_at_reload)
            rep1 = run1.wait(timeout=30)
            f.check(rep1 is not None, "the first upload finished within 30 s")
            if rep1:
                d.log("upload 1: sent %d received %d" % d.iperf_bytes(rep1))
            # The alert comes with the flows' updates: idle/active timeouts (2 s) plus the
            # merger's watermark lag (flow_table.h: sweep period + 1 s); bounded wait.
            alert = None
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and alert is None:
                for a in daemon.alerts():
                    if a["kind"] == "weight_transfer" and a["external"] == "198.51.100.0/24":
                        alert = a
                        break
                if daemon.proc.poll() is not None:
                    break
                time.sleep(0.25)
            if f.check(alert is not None, "a weight_transfer alert for the upload after the "
                       "reload, while the daemon runs"):
                d.log("alert after reload: v%d %s payload %d threshold %d" % (
                    alert["version"], alert["state"], alert["payload_bytes"],
                    alert["threshold_bytes"]))
                f.check(alert["threshold_bytes"] == MIN_AFTER,
                        "the alert's threshold_bytes is %d (want the reloaded %d)"
                        % (alert["threshold_bytes"], MIN_AFTER))
                f.check(alert["payload_bytes"] >= MIN_AFTER,
                        "alert payload %d >= min_size" % alert["payload_bytes"])
                f.check(os.path.getsize(rotated) == 0,
                        "nothing was written to the rotated-away alert log")

            # ---- 2. SIGTERM in the middle of the second upload
            start = tx(topo)
            run2 = d.IperfRun(topo, topo.dc, topo.out, TERM_PEER, 1 << 30, rate_per_stream=RATE,
                              cpu=1)
            runs.append(run2)
            time.sleep(3.0)
            f.check(run2.client.poll() is None, "the second upload was still running at SIGTERM")
            at_term = tx(topo)
            rc, secs = daemon.stop(timeout=10)
            after = tx(topo)
            l3_term, frames_term = l3_since(start, at_term)
            l3_after, frames_after = l3_since(start, after)
            d.log("SIGTERM: exit %s after %.2f s; kernel L3 bytes sent %d at SIGTERM, %d after "
                  "exit" % (rc, secs, l3_term, l3_after))
            f.check(rc == 0, "exit status %s after SIGTERM (want 0 within 10 s)" % rc)
            stopped = daemon.stopped_line()
            if f.check(stopped is not None, "a \"stopped\" log line"):
                d.log("stopped: %s" % stopped)
                f.check(int(stopped["packets"]) > 0, "stopped.packets > 0")
                f.check(int(stopped["dropped"]) == 0, "stopped.dropped == 0")
            final = [a for a in d.latest_versions(daemon.alerts())
                     if a["external"] == "192.0.2.0/24"]
            in_bounds = "L3 bytes %d not in [%d - %d, %d] (the kernel's at SIGTERM, after exit)"
            if f.check(len(final) == 1, "one alert for the interrupted upload (got %d)"
                       % len(final)):
                a = final[0]
                d.log("latest alert version: v%d %s bytes %d payload %d flows %d" % (
                    a["version"], a["state"], a["bytes"], a["payload_bytes"], a["flows"]))
                if not with_history:
                    # Without history the flush ends every transfer: the alert's last version
                    # is final and carries every byte seen.
                    f.check(a["state"] == "ended", "the flushed alert ended: %s" % a["state"])
                    f.check(l3_term - LAG_BYTES <= a["bytes"] <= l3_after,
                            "flushed alert " + in_bounds % (a["bytes"], l3_term, LAG_BYTES,
                                                            l3_after))
            if with_history:
                # With history, SIGTERM saves open transfers for the next start instead of
                # ending them; the transfer's latest version in the history has every byte seen.
                ts = [t for t in d.history_transfers(args.binary, db)
                      if t.get("external") == "192.0.2.0/24"]
                if f.check(len(ts) == 1, "history has the interrupted transfer: %s" % ts):
                    t = ts[0]
                    d.log("history transfer: sent_bytes %d sent_packets %d flows %d" % (
                        t["sent_bytes"], t["sent_packets"], t["flows"]))
                    f.check(l3_term - LAG_BYTES <= t["sent_bytes"] <= l3_after,
                            "history transfer " + in_bounds % (t["sent_bytes"], l3_term,
                                                               LAG_BYTES, l3_after))
                    f.check(frames_term - LAG_BYTES // 1514 <= t["sent_packets"] <= frames_after,
                            "history sent_packets %s vs the kernel's %d..%d frames"
                            % (t["sent_packets"], frames_term, frames_after))
                    if final:
                        # An alert is re-reported at 10% growth, so it may trail the transfer.
                        f.check(final[0]["bytes"] <= t["sent_bytes"],
                                "alert bytes %d above the history's %d"
                                % (final[0]["bytes"], t["sent_bytes"]))
            else:
                print("SKIPPED PART: history not checked: this build has no `weighbridge "
                      "history`, or this `run` opened no history (no \"history\" log line; "
                      "being wired)", flush=True)
    except RuntimeError as e:
        f.fail(str(e))
    finally:
        for r in runs:
            r.close()
        if daemon is not None:
            if f.items:
                print(daemon.log_text()[-3000:], flush=True)
            daemon.close()
        d.wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
