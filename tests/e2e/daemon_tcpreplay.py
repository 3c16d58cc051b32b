#!/usr/bin/python3
"""daemon_tcpreplay: captures replayed onto a veth at top speed while `weighbridge run` captures.

For each of a few Ethernet captures from the shared set (MANIFEST.tsv, link type ether, whole
frames, readable), a veth pair without addresses (IPv6 off, offloads off, so the kernel adds no
frame of its own) joins two namespaces; `weighbridge run` captures one end with libpcap and
`tcpreplay --topspeed` sends the capture into the other. Ground truth is the offline
`weighbridge replay --summary-json` of the same file with the same config, and tcpreplay's own
count of packets sent.

Assertions per capture:
- tcpreplay sent every record (its "Successful packets" equals the record count our own reader
  finds in the file; a failure there is a test set-up problem and is reported as such).
- live frames (the stopped line's packets) == offline frames, or the difference is covered by
  the drops the sensor reported (stopped line's dropped; it equals them when only the kernel
  lost frames, and exceeds them by what was read and then lost at a shard ring, since those are
  in both counts).
- with no drops: live flows ended (every flow is flushed at SIGTERM) == offline flows. Idle and
  active timeouts are set to 1d in both runs: a live replay compresses the capture's gaps, so
  with shorter timeouts the two would split flows differently by design, not by error.
- when `run` writes history (it logs "history" at start; being wired): the packets and L3
  bytes of `weighbridge history
  flows` add up to those of the offline replay's --flows-out; otherwise skipped with a message.
- when `run` serves metrics (the lead is wiring them): frames, L3 bytes (sum of
  weighbridge_bytes_total) and wire bytes equal the offline summary; otherwise that part is
  skipped with a message.

usage: daemon_tcpreplay.py --binary PATH --pcaps DIR
"""

import argparse
import csv
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_lib as d  # noqa: E402

# Ethernet captures with different shapes: mixed real traffic, one bulk TCP flow, IPv4
# fragments, VLAN/MPLS, VXLAN, pcapng. Those missing from the folder are left out.
WANTED = ("pcpp_example.pcap", "suricata_smb2-async-read.pcap", "pcpp_ip-frag.pcap",
          "zeek_mixed-vlan-mpls.pcap", "ndpi_vxlan.pcap", "zeek_irc-dcc-send.pcapng")


def pick_captures(pcaps):
    manifest = os.path.join(pcaps, "MANIFEST.tsv")
    if not os.path.isfile(manifest):
        d.skip("no MANIFEST.tsv in %s" % pcaps)
    with open(manifest, encoding="utf-8") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh, delimiter="\t")}
    out = []
    for name in WANTED:
        r = rows.get(name)
        path = os.path.join(pcaps, name)
        if r is None or r["link_type"] != "ether" or not os.path.isfile(path):
            continue
        read = d.wbtest.read_capture(path)
        # Whole frames only: tcpreplay sends what was captured, so a truncated record would
        # reach the sensor shorter than the offline replay's wire length.
        if read.error or read.link_type != 1 or any(c < w for _, _, c, w, _ in read.records):
            continue
        out.append((name, path, len(read.records), max(c for _, _, c, _, _ in read.records)))
    return out


def config_for(work, iface, db=None):
    return "\n".join(([] if db is None else ["history: {path: %s}" % d.json.dumps(db)]) + [
        "site: {inside: [10.0.0.0/8, 192.168.0.0/16, 172.16.0.0/12]}",
        # Snaplen 65535: the offline replay sees whole frames; so must the sensor, in case a
        # decoder needs more than the default 128 bytes (deep tunnels).
        "capture:",
        "  - {type: pcap, interface: %s, snaplen: 65535, buffer: 64MiB}" % iface,
        "pipeline: {workers: 2, idle_timeout: 1d, active_timeout: 1d}",
        "detect: {weight_transfer: {catalog: %s}}" % d.json.dumps(d.CATALOG),
        "metrics: {health_listen: 127.0.0.1:9478}",
        "alerts: {log: %s}" % d.json.dumps(os.path.join(work, "alerts.log")),
        "daemon: {log_format: json}",
    ]) + "\n"


def tcpreplay(topo, path, timeout=60):
    p = d.sh(topo.ns_cmd(topo.out, "tcpreplay", "-i", topo.out_if, "-K", "--topspeed", path),
             timeout=timeout, check=False)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    ok = re.search(r"Successful packets:\s+(\d+)", text)
    failed = re.search(r"Failed packets:\s+(\d+)", text)
    rate = re.search(r"Rated: .*?([\d.]+) pps", text)
    return (int(ok.group(1)) if ok else -1, int(failed.group(1)) if failed else -1,
            float(rate.group(1)) if rate else 0.0, text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--pcaps", required=True)
    args = ap.parse_args()
    d.wbtest.require_binary(args.binary)
    if not os.path.isdir(args.pcaps):
        d.skip("the shared captures folder %s is absent" % args.pcaps)
    d.require_root_tools("tcpreplay", "ethtool", "curl")
    with_history_cmd = d.history_command(args.binary)
    captures = pick_captures(args.pcaps)
    if not captures:
        d.skip("none of %s is in %s as a whole-frame Ethernet capture" % (WANTED, args.pcaps))

    f = d.Failures()
    work = d.wbtest.temp_dir("wb-e2e-tcpreplay-")
    try:
        mtu = max(1500, max(c[3] for c in captures))  # VLAN-tagged frames get 4 bytes extra
        with d.Topology("r", addresses=False, mtu=mtu) as topo:
            cfg = config_for(work, topo.dc_if)
            metrics_note = None
            history_note = None
            for name, path, records, _ in captures:
                # The offline truth, with the same config file the daemon reads.
                cfg_path = os.path.join(work, "replay.yaml")
                with open(cfg_path, "w", encoding="utf-8") as fh:
                    fh.write(cfg)
                rc, off_flows, summary, err, _ = d.wbtest.replay(args.binary, path, work,
                                                         extra=("--config", cfg_path))
                if not f.check(rc == 0 and summary is not None,
                               "%s: offline replay failed (%s): %s" % (name, rc, err[-300:])):
                    continue
                db = os.path.join(work, "db-" + name) if with_history_cmd else None
                daemon = d.Daemon(args.binary, topo.dc, work, config_for(work, topo.dc_if, db),
                                  name="run-" + name)
                try:
                    daemon.start()
                    if db is not None and not d.output_wired(daemon, "history"):
                        db = None
                    if db is None:
                        history_note = ("flow bytes not compared through history: this `run` "
                                        "opened no history (no \"history\" log line)")
                    sent, failed, pps, text = tcpreplay(topo, path)
                    d.log("%s: tcpreplay sent %d, failed %d, %.0f pps" % (name, sent, failed,
                                                                          pps))
                    if not f.check(sent == records and failed == 0,
                                   "%s: tcpreplay sent %d of %d records (failed %d): %s"
                                   % (name, sent, records, failed, text[-400:])):
                        continue
                    # Wait (bounded) until the sensor has read or dropped as many as were sent.
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        _, h = daemon.health()
                        if h and h.get("packets", 0) + h.get("dropped", 0) >= records:
                            break
                        time.sleep(0.1)
                    # health counts frames as the capture thread reads them; the flow tables'
                    # counters (weighbridge_bytes_total) follow once the shard workers have taken
                    # them from their rings, which on a loaded machine can be a moment later.
                    metrics = d.scrape_metrics(topo.dc)
                    # Bounded: with nothing dropped the bytes reach the offline total.
                    wait_until = time.monotonic() + 10
                    while (metrics is not None and time.monotonic() < wait_until and
                           metrics.get("weighbridge_bytes_total", 0) < summary["bytes"]):
                        time.sleep(0.1)
                        metrics = d.scrape_metrics(topo.dc)
                    # `run --help` already names /metrics; a `run` that serves it says so in its
                    # log (a "metrics" event, or the address) once it is wired.
                    if metrics is None and any(l.get("event") == "metrics" or "9477" in str(v)
                                               for l in daemon.log_lines()
                                               for v in l.values()):
                        f.fail("%s: run logs a metrics endpoint but /metrics did not answer"
                               % name)
                    rc, secs = daemon.stop(timeout=30)
                    f.check(rc == 0, "%s: exit status %s after SIGTERM" % (name, rc))
                    st = daemon.stopped_line()
                    if not f.check(st is not None, "%s: no stopped line" % name):
                        continue
                    live, dropped = int(st["packets"]), int(st["dropped"])
                    off = int(summary["frames"])
                    d.log("%s: offline frames %d flows %d; live frames %d dropped %d flows "
                          "ended %d" % (name, off, summary["flows"], live, dropped,
                                        int(st["flows_ended"])))
                    # `dropped` counts frames the kernel lost (never read) and frames read but
                    # lost at a shard ring (also in `packets`): what was not read must be
                    # covered by it, and with only kernel losses it equals it exactly.
                    f.check(live <= off and off - live <= dropped,
                            "%s: live frames %d, offline %d, drops reported %d: the difference "
                            "is not covered by the reported drops" % (name, live, off, dropped))
                    if dropped == 0:
                        f.check(int(st["flows_ended"]) == int(summary["flows"]),
                                "%s: live flows ended %s != offline flows %s"
                                % (name, st["flows_ended"], summary["flows"]))
                    if db is not None and dropped == 0:
                        # Every flow the daemon flushed is in its history: packets and L3 bytes
                        # add up to the offline replay's flows.
                        live_t = d.flow_totals(d.history_flows(args.binary, db))
                        off_t = d.flow_totals(off_flows or [])
                        d.log("%s: history flows (packets, bytes) %s, offline %s"
                              % (name, live_t, off_t))
                        f.check(live_t == off_t, "%s: history flows (packets, bytes) %s != "
                                "offline flows %s" % (name, live_t, off_t))
                    if metrics is None:
                        metrics_note = ("byte totals not compared: `run` serves no /metrics in "
                                        "this build (telemetry not wired yet)")
                    elif dropped == 0:
                        d.log("%s: metrics frames %s bytes %s wire_bytes %s; offline %s %s %s" % (
                            name, metrics.get("weighbridge_frames_total"),
                            metrics.get("weighbridge_bytes_total"),
                            metrics.get("weighbridge_wire_bytes_total"), summary["frames"],
                            summary["bytes"], summary["wire_bytes"]))
                        for key, metric in (("frames", "weighbridge_frames_total"),
                                            ("bytes", "weighbridge_bytes_total"),
                                            ("wire_bytes", "weighbridge_wire_bytes_total")):
                            got = metrics.get(metric)
                            f.check(got is not None and int(got) == int(summary[key]),
                                    "%s: %s %s != offline %s %s" % (name, metric, got, key,
                                                                  summary[key]))
                finally:
                    daemon.close()
            if metrics_note:
                print("SKIPPED PART: " + metrics_note, flush=True)
            if history_note:
                print("SKIPPED PART: " + history_note, flush=True)
    except RuntimeError as e:
        f.fail(str(e))
    finally:
        d.wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
