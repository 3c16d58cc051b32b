#!/usr/bin/python3
"""weighbridge side by side with its peers on the same capture, in the same run.

Writes a synthetic capture and its per-flow truth with `weighbridge synth` (or takes yours), then
runs, one after the other and --rounds times each (medians):

  loop          build-bench/bench/pcap_loop_baseline: the empty libpcap loop, the baseline
  weighbridge   `weighbridge replay` with 1 and 2 workers
  tshark        `tshark -q -z conv,tcp -z conv,udp` (conversation tables)
  pmacctd       reading the file (pcap_savefile), print plugin, aggregate on the 5-tuple + VLAN
  softflowd     `softflowd -r FILE -c none -v 9 -A milli` exporting on 127.0.0.1 into `nfcapd`,
                read back with `nfdump -o csv`

and prints one table: seconds, Mpps (truth packets / seconds), time as a multiple of the loop's,
peak RSS, and whether the tool's byte, packet and flow totals match the generator's truth.

What is compared with what:
  weighbridge, pmacctd, softflowd: L3 bytes (IPv4 total length, IPv6 payload length + 40) and IP
    packets of every flow, against the truth's sums. Flows: bidirectional flows; pmacctd and
    softflowd report one record per direction, so their records are merged by (VLAN where the tool
    has it, protocol, unordered endpoint pair) before counting.
  tshark: its conversation tables count *frame* bytes (Ethernet wire length) and print them
    truncated to whole kB/MB/GB, so its TCP+UDP frame total is compared with truth L3 bytes + 14
    bytes of Ethernet header (+4 for a VLAN tag) per packet of the TCP and UDP flows (frames under
    60 bytes are padded on the wire: a few bytes the truth does not include); "within" means the
    truth lies between the table's truncated sum and that sum plus one unit per row. Packets are
    its frame counts (exact).
  loop: frames read only.
  pmacctd: its seconds exclude its fixed start/stop sleeps (pcap_savefile sleeps 2 s before
    reading, then waits for its plugin), measured in the same run on the 158-packet `tiny`
    capture; the raw wall time is printed below the table.

Peak RSS is the tool's ru_maxrss as GNU time (/usr/bin/time, started by this script, ~2 MiB
itself) reports it, or os.wait4's when GNU time is missing (then at least this script's own RSS);
for softflowd -> nfcapd it is the sum of the two processes; for pmacctd the largest of its
processes (core and print plugin).

Every tool run is bounded by --timeout (killed with its process group, reported as "did not
finish"); tshark runs under an address-space cap (--tshark-mem-gib) and is skipped on captures
with more than --tshark-max-packets packets: it keeps ~0.55 KiB per packet (5.4 GiB and ~70 s
for bench-10m here). Exit status is non-zero only for
errors of this script, never for a tool's mismatch.

usage:
  bench/peers.py                                     # bench-10m (10M packets, 1.2 GB)
  bench/peers.py --scenario edge-mix --scale 10      # quicker
  bench/peers.py --capture FILE.pcap --truth FILE.truth.jsonl
"""
import argparse
import csv
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")
WB = os.path.join(BUILD, "weighbridge")
LOOP = os.path.join(BUILD, "bench", "pcap_loop_baseline")


class Run:
    """One measured child: wall seconds, peak RSS (MiB), exit code, captured stdout/stderr."""

    def __init__(self, secs, rss_mib, rc, out, err, timed_out):
        self.secs, self.rss_mib, self.rc = secs, rss_mib, rc
        self.out, self.err, self.timed_out = out, err, timed_out

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out


def spawn(cmd, stdout, stderr, mem_limit=None):
    def limit():
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=True, preexec_fn=limit)


def reap(proc, timeout):
    """Waits for proc with os.wait4 (so its rusage is ours); kills its group after timeout."""
    fired = threading.Event()

    def kill():
        fired.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return proc.returncode, usage.ru_maxrss / 1024.0, fired.is_set()


# A child forked from this script starts with this script's RSS as its ru_maxrss (Linux carries
# the old mm's high-water mark across exec), so tools are started through GNU time, whose own
# RSS is ~2 MiB, and their peak is the one it reports.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(cmd, timeout, workdir, name, mem_limit=None):
    out_path = os.path.join(workdir, name + ".stdout")
    err_path = os.path.join(workdir, name + ".stderr")
    rss_path = os.path.join(workdir, name + ".maxrss")
    if GNU_TIME:
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_path, "--"] + cmd
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        proc = spawn(cmd, out, err, mem_limit)
        rc, rss, timed_out = reap(proc, timeout)
        secs = time.monotonic() - t0
    if GNU_TIME and not timed_out:
        with open(rss_path) as f:
            kib = [ln for ln in f.read().split() if ln.isdigit()]
        if kib:
            rss = int(kib[-1]) / 1024.0
    with open(out_path, errors="replace") as f:
        o = f.read()
    with open(err_path, errors="replace") as f:
        e = f.read()
    return Run(secs, rss, rc, o, e, timed_out)


# ---------------------------------------------------------------------------------------------
# Truth


def load_truth(path):
    t = {"bytes": 0, "packets": 0, "flows": 0, "tu_frame_bytes": 0, "tu_packets": 0, "tu_flows": 0}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            b = d["a_to_b_bytes"] + d["b_to_a_bytes"]
            p = d["a_to_b_packets"] + d["b_to_a_packets"]
            t["bytes"] += b
            t["packets"] += p
            t["flows"] += 1
            if d["proto"] in (6, 17):
                t["tu_frame_bytes"] += b + p * (14 + (4 if d.get("vlan", 0) else 0))
                t["tu_packets"] += p
                t["tu_flows"] += 1
    return t


def vs(got, want):
    if got is None:
        return "—"
    if got == want:
        return "exact"
    if want == 0:
        return f"{got} vs 0"
    return f"{100.0 * (got - want) / want:+.3f}%"


def bidir_count(records):
    """records: (vlan, proto, ip1, port1, ip2, port2) per direction; counts unordered pairs."""
    keys = set()
    for vlan, proto, a, ap, b, bp in records:
        e1, e2 = (a, ap), (b, bp)
        keys.add((vlan, proto) + ((e1, e2) if e1 <= e2 else (e2, e1)))
    return len(keys)


# ---------------------------------------------------------------------------------------------
# The tools. Each returns a dict: run (Run), bytes, packets, flows, note; or raises ToolError.


class ToolError(Exception):
    pass


def tool_loop(cap, args, wd):
    r = measure([LOOP, cap], args.timeout, wd, "loop")
    res = {"run": r, "bytes": None, "packets": None, "flows": None}
    if r.ok:
        res["packets"] = json.loads(r.out)["frames"]
    return res


def tool_weighbridge(workers):
    def run(cap, args, wd):
        summary = os.path.join(wd, f"wb{workers}.summary.json")
        flows = os.path.join(wd, f"wb{workers}.flows.jsonl")
        r = measure([WB, "replay", cap, "--workers", str(workers), "--no-progress",
                     "--summary-json", summary, "--flows-out", flows], args.timeout, wd,
                    f"wb{workers}")
        res = {"run": r, "bytes": None, "packets": None, "flows": None}
        if r.ok:
            with open(summary) as f:
                s = json.load(f)
            res.update(bytes=s["bytes"], packets=s["ip_packets"], flows=s["flows"])
        return res

    return run


TS_ROW = re.compile(r"(\d+)\s+(\d+)\s+(bytes|kB|MB|GB|TB)\b")
UNIT = {"bytes": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def tool_tshark(cap, args, wd):
    r = measure(["tshark", "-n", "-r", cap, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                args.timeout, wd, "tshark", mem_limit=args.tshark_mem_gib << 30)
    res = {"run": r, "bytes": None, "packets": None, "flows": None}
    if not r.ok:
        return res
    lo = hi = frames = rows = 0
    for line in r.out.splitlines():
        if "<->" not in line:
            continue
        m = TS_ROW.findall(line)
        if len(m) < 3:
            raise ToolError(f"tshark: unparsed conversation row: {line!r}")
        n, v, unit = m[2]  # <-, ->, Total
        frames += int(n)
        lo += int(v) * UNIT[unit]
        hi += (int(v) + (1 if unit != "bytes" else 0)) * UNIT[unit]
        rows += 1
    res.update(packets=frames, flows=rows, bytes_lo=lo, bytes_hi=hi)
    return res


def next_prime(n):
    def prime(k):
        if k < 2 or k % 2 == 0:
            return k == 2
        i = 3
        while i * i <= k:
            if k % i == 0:
                return False
            i += 2
        return True

    while not prime(n):
        n += 1
    return n


def pmacctd_conf(cap, wd, tag, cache_entries, args):
    out_csv = os.path.join(wd, f"pmacct-{tag}.csv")
    conf = os.path.join(wd, f"pmacct-{tag}.conf")
    for p in (out_csv,):
        if os.path.exists(p):
            os.unlink(p)
    with open(conf, "w") as f:
        f.write(f"""daemonize: false
pcap_savefile: {cap}
pcap_savefile_wait: false
plugins: print[p]
aggregate[p]: vlan,src_host,dst_host,src_port,dst_port,proto
print_output[p]: csv
print_output_file[p]: {out_csv}
print_refresh_time[p]: 86400
print_cache_entries[p]: {cache_entries}
print_output_file_append[p]: true
plugin_pipe_size: {args.pmacct_pipe}
plugin_buffer_size: {args.pmacct_buffer}
logfile: {os.path.join(wd, f"pmacct-{tag}.log")}
""")
    return conf, out_csv


def tool_pmacctd(truth, idle_cap):
    idle = {}

    def run(cap, args, wd):
        if "secs" not in idle:  # fixed sleeps, once per script run
            conf, _ = pmacctd_conf(idle_cap, wd, "idle", 1009, args)
            r0 = measure(["pmacctd", "-f", conf], args.timeout, wd, "pmacctd-idle")
            if not r0.ok:
                raise ToolError(f"pmacctd on the tiny capture failed: rc {r0.rc} {r0.err[-300:]}")
            idle["secs"] = r0.secs
        conf, out_csv = pmacctd_conf(cap, wd, "run", next_prime(max(5 * truth["flows"] // 2, 1009)),
                                      args)
        r = measure(["pmacctd", "-f", conf], args.timeout, wd, "pmacctd")
        res = {"run": r, "bytes": None, "packets": None, "flows": None, "raw_secs": r.secs,
               "idle_secs": idle["secs"]}
        r.secs = max(r.secs - idle["secs"], 1e-3)
        if not r.ok:
            return res
        if not os.path.exists(out_csv):
            res.update(bytes=0, packets=0, flows=0)
            return res
        b = p = 0
        recs = []
        with open(out_csv, newline="") as f:
            for row in csv.DictReader(f):
                if row["BYTES"] == "BYTES":  # a later purge appended its own header
                    continue
                b += int(row["BYTES"])
                p += int(row["PACKETS"])
                recs.append((row["VLAN"], row["PROTOCOL"], row["SRC_IP"], int(row["SRC_PORT"]),
                             row["DST_IP"], int(row["DST_PORT"])))
        res.update(bytes=b, packets=p, flows=bidir_count(recs))
        return res

    return run


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_listening(port):
    want = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        return any(line.split()[1] == want for line in f.readlines()[1:])


def tool_softflowd(cap, args, wd):
    nfdir = os.path.join(wd, "nfcapd")
    shutil.rmtree(nfdir, ignore_errors=True)
    os.makedirs(nfdir)
    port = free_udp_port()
    with open(os.path.join(wd, "nfcapd.log"), "wb") as log:
        nf_cmd = ["nfcapd", "-B", "4194304", "-w", nfdir, "-b", "127.0.0.1", "-p", str(port),
                  "-t", "86400"]
        nf_rss_path = os.path.join(wd, "nfcapd.maxrss")
        if GNU_TIME:
            nf_cmd = [GNU_TIME, "-f", "%M", "-o", nf_rss_path, "--"] + nf_cmd
        nfcapd = spawn(nf_cmd, log, log)
    nf_rss = None
    try:
        deadline = time.monotonic() + 10
        while not udp_listening(port):
            if nfcapd.poll() is not None or time.monotonic() > deadline:
                raise ToolError("nfcapd did not start listening (see nfcapd.log)")
            time.sleep(0.05)
        r = measure(["softflowd", "-d", "-r", cap, "-c", "none", "-v", "9", "-A", "milli",
                     "-n", f"127.0.0.1:{port}"], args.timeout, wd, "softflowd")
        time.sleep(1.0)  # let nfcapd drain its socket buffer before it writes the file
    finally:
        if nfcapd.returncode is None:
            # SIGTERM to nfcapd itself: it then writes its file; GNU time (its parent) must live
            # on to report nfcapd's peak RSS.
            targets = [nfcapd.pid]
            if GNU_TIME:
                try:
                    with open(f"/proc/{nfcapd.pid}/task/{nfcapd.pid}/children") as f:
                        targets = [int(x) for x in f.read().split()] or targets
                except OSError:
                    pass
            for pid in targets:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            _, nf_rss, _ = reap(nfcapd, 30)
            if GNU_TIME and os.path.exists(nf_rss_path):
                with open(nf_rss_path) as f:
                    kib = [ln for ln in f.read().split() if ln.isdigit()]
                if kib:
                    nf_rss = int(kib[-1]) / 1024.0
    res = {"run": r, "bytes": None, "packets": None, "flows": None,
           "rss_parts": (r.rss_mib, nf_rss)}
    r.rss_mib += nf_rss or 0.0
    if not r.ok:
        return res
    t0 = time.monotonic()
    d = measure(["nfdump", "-R", nfdir, "-o", "csv"], args.timeout, wd, "nfdump")
    res["nfdump_secs"] = time.monotonic() - t0
    if not d.ok:
        raise ToolError(f"nfdump failed: rc {d.rc} {d.err[-300:]}")
    lines = d.out.splitlines()
    recs = []
    header = None
    totals = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("ts,te,"):
            header = line.split(",")
        elif line.strip() == "Summary":
            h = lines[i + 1].split(",")
            v = lines[i + 2].split(",")
            totals = dict(zip(h, v))
            break
        elif header and line and line[0].isdigit():
            f = dict(zip(header, line.split(",")))
            if f["pr"] in ("ICMP", "ICMP6"):  # dp carries type*256+code: echo and reply differ
                f["sp"] = f["dp"] = "0"
            recs.append((f.get("svln", ""), f["pr"], f["sa"], f["sp"], f["da"], f["dp"]))
        i += 1
    if totals is None:
        if not recs:  # nothing arrived
            res.update(bytes=0, packets=0, flows=0)
            return res
        raise ToolError("nfdump: no Summary in its csv output")
    res.update(bytes=int(totals["bytes"]), packets=int(totals["packets"]), flows=bidir_count(recs))
    return res


# ---------------------------------------------------------------------------------------------


def fmt_row(cols, widths):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cols, widths)) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="bench-10m", help="synth scenario (default bench-10m)")
    ap.add_argument("--scale", default="1", help="synth --scale (default 1)")
    ap.add_argument("--capture", help="use this capture instead of writing one (needs --truth)")
    ap.add_argument("--truth", help="the truth of --capture (synth's JSON lines)")
    ap.add_argument("--workdir", default="/tmp/wb-peers", help="captures and tool outputs")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per tool run")
    ap.add_argument("--skip", default="",
                    help="comma list of: loop,weighbridge,tshark,pmacctd,softflowd")
    ap.add_argument("--tshark-max-packets", type=int, default=10_000_000,
                    help="skip tshark on larger captures (default 10M: ~70 s, 5.4 GiB here)")
    ap.add_argument("--tshark-mem-gib", type=int, default=12,
                    help="tshark address-space cap in GiB (default 12)")
    ap.add_argument("--pmacct-pipe", type=int, default=1 << 30, help="plugin_pipe_size (1 GiB)")
    ap.add_argument("--pmacct-buffer", type=int, default=1 << 20,
                    help="plugin_buffer_size (1 MiB; 64 KiB made it 5-7x slower here)")
    ap.add_argument("--no-build", action="store_true", help="do not (re)build the bench binaries")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    os.makedirs(args.workdir, exist_ok=True)
    wd = args.workdir

    if not args.no_build:
        subprocess.run(["cmake", "--preset", "bench"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", BUILD, "--target", "weighbridge", "pcap_loop_baseline",
                        "-j2"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for tool, pkg in (("tshark", "tshark"), ("pmacctd", "pmacct"), ("softflowd", "softflowd"),
                      ("nfcapd", "nfdump"), ("nfdump", "nfdump")):
        if shutil.which(tool) is None and tool not in skip:
            print(f"{tool} not found (Debian package {pkg}; `scripts/deps --bench`): skipped")
            skip.add({"nfcapd": "softflowd", "nfdump": "softflowd"}.get(tool, tool))

    if args.capture:
        if not args.truth:
            sys.exit("--capture needs --truth (synth's truth JSON lines)")
        cap, truth_path = args.capture, args.truth
        what = f"capture {cap}"
    else:
        cap = os.path.join(wd, f"{args.scenario}-s{args.scale}.pcap")
        truth_path = cap + ".truth.jsonl"
        if not (os.path.exists(cap) and os.path.exists(truth_path)):
            t0 = time.monotonic()
            subprocess.run([WB, "synth", "--scenario", args.scenario, "--scale", args.scale,
                            "--snaplen", "128", "--out", cap, "--truth", truth_path], check=True,
                           stdout=subprocess.DEVNULL)
            print(f"wrote {cap} in {time.monotonic() - t0:.2f} s")
        what = f"synth --scenario {args.scenario} --scale {args.scale} --snaplen 128"
    idle_cap = os.path.join(wd, "tiny.pcap")
    if "pmacctd" not in skip and not os.path.exists(idle_cap):
        subprocess.run([WB, "synth", "--scenario", "tiny", "--snaplen", "128", "--out", idle_cap,
                        "--truth", "none"], check=True, stdout=subprocess.DEVNULL)

    truth = load_truth(truth_path)
    print(f"input: {what}: {cap} ({os.path.getsize(cap) / 1e6:.0f} MB), truth: {truth['packets']} "
          f"packets, {truth['bytes']} L3 bytes, {truth['flows']} flows; {args.rounds} round(s), "
          f"medians; {os.cpu_count()} cores", flush=True)

    tools = []
    if "loop" not in skip:
        tools.append(("libpcap loop", tool_loop))
    if "weighbridge" not in skip:
        tools += [("weighbridge -w1", tool_weighbridge(1)),
                  ("weighbridge -w2", tool_weighbridge(2))]
    notes = []
    if "tshark" not in skip:
        if truth["packets"] > args.tshark_max_packets:
            notes.append(f"tshark: skipped, {truth['packets']} packets > --tshark-max-packets "
                         f"{args.tshark_max_packets} (it needs ~0.55 KiB per packet)")
        else:
            tools.append(("tshark conv", tool_tshark))
    if "pmacctd" not in skip:
        tools.append(("pmacctd", tool_pmacctd(truth, idle_cap)))
    if "softflowd" not in skip:
        tools.append(("softflowd→nfcapd", tool_softflowd))

    results = {name: [] for name, _ in tools}
    for rnd in range(args.rounds):
        for name, fn in tools:
            try:
                res = fn(cap, args, wd)
            except ToolError as e:
                res = {"run": None, "error": str(e)}
            results[name].append(res)
            r = res["run"]
            state = "error" if r is None else ("ok" if r.ok else
                                              ("timeout" if r.timed_out else f"rc {r.rc}"))
            print(f"  round {rnd + 1}: {name}: {state}"
                  + (f", {r.secs:.2f} s" if r is not None else f": {res['error']}"), flush=True)

    def med(name):
        oks = [x["run"].secs for x in results[name] if x["run"] is not None and x["run"].ok]
        return statistics.median(oks) if oks else None

    base = med("libpcap loop") if "libpcap loop" in results else None
    head = ["tool", "seconds", "Mpps", "x loop", "peak MiB", "bytes vs truth", "packets vs truth",
            "flows (truth " + str(truth["flows"]) + ")"]
    rows = []
    for name, _ in tools:
        runs = results[name]
        last = runs[-1]
        r = last["run"]
        s = med(name)
        if s is None:
            why = last.get("error") or (f"did not finish in {args.timeout:g} s" if r.timed_out
                                        else f"did not finish (rc {r.rc}): "
                                        f"{r.err.strip()[-120:]}")
            rows.append([name, why] + [""] * (len(head) - 2))
            continue
        rss = max(x["run"].rss_mib for x in runs if x["run"] is not None)
        if name == "tshark conv":
            lo, hi = last["bytes_lo"], last["bytes_hi"]
            want = truth["tu_frame_bytes"]
            where = "within" if lo <= want <= hi else "outside"
            bytes_col = f"{vs(lo, want)} (frame bytes, TCP+UDP; {where} rounding)"
            pk_col = vs(last["packets"], truth["tu_packets"]) + " (TCP+UDP)"
            fl_col = f"{last['flows']} (TCP+UDP truth {truth['tu_flows']})"
        else:
            bytes_col = vs(last["bytes"], truth["bytes"])
            pk_col = vs(last["packets"], truth["packets"])
            fl_col = "—" if last["flows"] is None else (
                "exact" if last["flows"] == truth["flows"] else str(last["flows"]))
        rows.append([name, f"{s:.2f}", f"{truth['packets'] / s / 1e6:.2f}",
                     f"{s / base:.2f}" if base else "—", f"{rss:.0f}", bytes_col, pk_col, fl_col])
        if name == "pmacctd":
            notes.append(f"pmacctd: seconds exclude {last['idle_secs']:.2f} s of fixed sleeps "
                         f"(its run on the 158-packet tiny capture); raw wall "
                         f"{last['raw_secs']:.2f} s; plugin_pipe_size {args.pmacct_pipe}, "
                         f"plugin_buffer_size {args.pmacct_buffer}")
        if name == "softflowd→nfcapd":
            a, b = last["rss_parts"]
            notes.append(f"softflowd→nfcapd: seconds are softflowd's; peak MiB = softflowd "
                         f"{a:.0f} + nfcapd {b or 0:.0f}; nfdump -o csv took "
                         f"{last.get('nfdump_secs', 0):.2f} s more")
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    print()
    print(fmt_row(head, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(fmt_row(row, widths))
    print()
    for n in notes:
        print("- " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
