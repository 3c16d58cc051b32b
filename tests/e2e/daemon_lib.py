"""Shared pieces of the daemon end-to-end tests: network namespaces joined by a veth pair,
`weighbridge run` inside one of them, iperf3 between them, and readers for the daemon's outputs.

Standard library only; run with /usr/bin/python3 as root. Every namespace, process and temporary
directory made here is removed by the `with` blocks (or `close()`), even when a test fails.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import wbtest  # noqa: E402

skip = wbtest.skip
Failures = wbtest.Failures
CATALOG = os.path.join(SOURCE_DIR, "config", "models.yaml")

# The "data centre" side of every topology; its peers live in the "outside" namespace.
DC_ADDR = "10.77.0.1"
DC_PREFIX = "10.77.0.0/24"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def sh(cmd, timeout=30, check=True):
    """Runs a command (list), bounded; raises RuntimeError with its stderr when check fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       check=False)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                  p.stderr.decode("utf-8", "replace")[-500:]))
    return p


def _exit_on_signal(signum, _frame):
    # CTest's timeout and a user's Ctrl-C end the test through its finally blocks, so that the
    # namespaces and processes it made are removed.
    raise SystemExit("stopped by signal %d" % signum)


signal.signal(signal.SIGTERM, _exit_on_signal)


def remove_stale_namespaces():
    """Namespaces that an earlier run of these tests left behind (it was SIGKILLed): named by
    Topology with the pid of a process that no longer exists."""
    p = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       check=False)
    for line in p.stdout.decode().splitlines():
        m = re.match(r"^(wb(?:dc|out)[a-z](\d+))\b", line)
        if m and not os.path.exists("/proc/%s" % m.group(2)):
            subprocess.run(["ip", "netns", "del", m.group(1)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)


def require_root_tools(*tools):
    if os.geteuid() != 0:
        skip("needs root (network namespaces, veths, raw sockets)")
    for t in ("ip",) + tools:
        if shutil.which(t) is None:
            skip("%s is not installed (scripts/deps installs it)" % t)
    p = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False)
    if p.returncode != 0:
        skip("network namespaces are not available: %s" % p.stderr.decode()[-200:])
    remove_stale_namespaces()


def history_command(binary):
    """True when this build has `weighbridge history` (the RocksDB history reader)."""
    p = subprocess.run([binary, "history", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20, check=False)
    return p.returncode == 0


def output_wired(daemon, event):
    """Whether the running daemon started an output: `run` logs a "history" event when it opens
    history.path and a "delivery" event when it starts the alert receivers. A build where `run`
    does not have them yet accepts the config keys and logs nothing."""
    return bool(daemon.events(event))


def history_transfers(binary, db):
    """`weighbridge history transfers --db DB --format json` as a list of dicts."""
    p = subprocess.run([binary, "history", "transfers", "--db", db, "--format", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    if p.returncode != 0:
        raise RuntimeError("history transfers failed: %s" % p.stderr.decode()[-400:])
    text = p.stdout.decode("utf-8", "replace").strip()
    if text.startswith("["):
        return json.loads(text)
    return wbtest.parse_flows(text, "history transfers")


def history_flows(binary, db):
    """`weighbridge history flows --db DB --format json` (the --flows-out format) as dicts."""
    p = subprocess.run([binary, "history", "flows", "--db", db, "--format", "json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    if p.returncode != 0:
        raise RuntimeError("history flows failed: %s" % p.stderr.decode()[-400:])
    text = p.stdout.decode("utf-8", "replace").strip()
    if text.startswith("["):
        return json.loads(text)
    return wbtest.parse_flows(text, "history flows")


def flow_totals(flows):
    """(packets, L3 bytes) over flows in the --flows-out format, both directions."""
    return (sum(int(f["a_to_b_packets"]) + int(f["b_to_a_packets"]) for f in flows),
            sum(int(f["a_to_b_bytes"]) + int(f["b_to_a_bytes"]) for f in flows))


class Topology:
    """Two namespaces, `dc` and `out`, joined by one veth pair.

    dc holds DC_ADDR/24 (or no address at all with addresses=False, for injected traffic); out
    holds every address in `out_addrs` as a /32. Each side routes everything else over the veth,
    so any of the out addresses is one hop away. IPv6 is off on both ends so that no neighbour
    discovery or MLD report adds packets that a test does not expect; offloads are off so that
    captures see wire-sized frames (ENVIRONMENT.md).
    """

    def __init__(self, tag, out_addrs=(), addresses=True, mtu=None):
        pid = os.getpid()
        self.dc = "wbdc%s%d" % (tag, pid)
        self.out = "wbout%s%d" % (tag, pid)
        # Interface names are at most 15 characters.
        self.dc_if = ("wd%s%d" % (tag, pid))[:15]
        self.out_if = ("wo%s%d" % (tag, pid))[:15]
        self.out_addrs = list(out_addrs)
        self.addresses = addresses
        self.mtu = mtu
        self._made = []

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def ns_cmd(self, ns, *cmd):
        return ["ip", "netns", "exec", ns, *cmd]

    def _build(self):
        for ns in (self.dc, self.out):
            sh(["ip", "netns", "add", ns])
            self._made.append(ns)
        sh(["ip", "link", "add", self.dc_if, "type", "veth", "peer", "name", self.out_if])
        sh(["ip", "link", "set", self.dc_if, "netns", self.dc])
        sh(["ip", "link", "set", self.out_if, "netns", self.out])
        for ns, dev in ((self.dc, self.dc_if), (self.out, self.out_if)):
            sh(self.ns_cmd(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
            sh(self.ns_cmd(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
            sh(self.ns_cmd(ns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev))
            sh(self.ns_cmd(ns, "ip", "link", "set", "lo", "up"))
            if self.mtu:
                sh(self.ns_cmd(ns, "ip", "link", "set", dev, "mtu", str(self.mtu)))
            sh(self.ns_cmd(ns, "ethtool", "-K", dev, "gro", "off", "gso", "off", "tso", "off"),
               check=False)
            sh(self.ns_cmd(ns, "ip", "link", "set", dev, "up"))
        if self.addresses:
            sh(self.ns_cmd(self.dc, "ip", "addr", "add", DC_ADDR + "/24", "dev", self.dc_if))
            sh(self.ns_cmd(self.dc, "ip", "route", "add", "default", "dev", self.dc_if))
            for a in self.out_addrs:
                sh(self.ns_cmd(self.out, "ip", "addr", "add", a + "/32", "dev", self.out_if))
            sh(self.ns_cmd(self.out, "ip", "route", "add", DC_PREFIX, "dev", self.out_if))

    def close(self):
        # Whatever still runs inside our namespaces was started by this test: end it by pid.
        for ns in self._made:
            p = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=False)
            for pid in p.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        if self._made:
            # A set-up that failed before moving the veth into the namespaces left it here.
            subprocess.run(["ip", "link", "del", self.dc_if], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        self._made = []


def pcap_config(iface, extra_capture=""):
    return ("capture:\n  - {type: pcap, interface: %s, snaplen: 128, buffer: 64MiB%s}\n"
            % (iface, extra_capture))


def dpdk_config(iface):
    # One lcore (0); the EAL in memory only, no hugepages, no PCI scan; the af_packet PMD reads
    # the veth through a PACKET_MMAP ring (ENVIRONMENT.md, "DPDK without NICs or hugepages").
    # framecnt: the PMD's default ring holds 512 frames; at iperf3's ~7 Gbit/s on this veth it
    # lost half of the frames, and the loss was silent: the port's counters showed none, so the
    # sensor's `dropped` stayed 0 (measured here: 107542 of 214405 frames read). 32768 frames
    # (64 MiB of ring at the default 2 KiB frame) lost none.
    return ("capture:\n  - type: dpdk\n    eal: [-l, \"0\", --no-huge, --no-pci, -m, \"256\", "
            "--no-shconf, --log-level=error, \"--vdev=net_af_packet0,iface=%s,framecnt=32768\"]\n"
            "    ports: [0]\n" % iface)


def base_config(workdir, capture_text, min_size="64MiB", allow=(), idle_timeout="2s",
                history=None, workers=2, webhook=None):
    """A run config: the dc prefix inside, the given capture section, alert log in workdir."""
    lines = ["site:", "  inside: [%s]" % DC_PREFIX]
    lines.append(capture_text.rstrip("\n"))
    lines += ["pipeline: {workers: %d, idle_timeout: %s, active_timeout: 60s}" % (workers,
                                                                                 idle_timeout),
              "detect:",
              "  weight_transfer: {min_size: %s, gap: 10m, catalog: %s}" % (min_size,
                                                                           json.dumps(CATALOG))]
    if allow:
        lines.append("  allow:")
        for name, prefix in allow:
            lines.append("    - {name: %s, prefixes: [%s], directions: [outbound]}" % (name,
                                                                                       prefix))
    if history:
        lines.append("history: {path: %s}" % json.dumps(history))
    hooks = ""
    if webhook:
        url, secret_file = webhook
        hooks = ", webhooks: [{name: e2e, url: %s, secret_file: %s, timeout: 5s}]" % (
            json.dumps(url), json.dumps(secret_file))
    lines += ["metrics: {health_listen: 127.0.0.1:9478}",
              "alerts: {log: %s%s}" % (json.dumps(os.path.join(workdir, "alerts.log")), hooks),
              "daemon: {log_format: json, stats_interval: 1s}"]
    return "\n".join(lines) + "\n"


class Daemon:
    """`weighbridge run` inside a namespace, its JSON log in workdir/daemon.log."""

    def __init__(self, binary, ns, workdir, config_text, name="daemon", cpus=None):
        self.binary = binary
        self.ns = ns
        self.workdir = workdir
        self.config_path = os.path.join(workdir, name + ".yaml")
        self.log_path = os.path.join(workdir, name + ".log")
        self.alerts_path = os.path.join(workdir, "alerts.log")
        self.cpus = cpus
        self.write_config(config_text)
        self.proc = None
        self.rc = None

    def write_config(self, text):
        # Written whole and renamed, so a SIGHUP never reads half a file.
        tmp = self.config_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.config_path)

    def start(self, timeout=20):
        cmd = ["ip", "netns", "exec", self.ns]
        if self.cpus is not None:
            cmd += ["taskset", "-c", self.cpus]
        cmd += [self.binary, "run", "--config", self.config_path, "--log-format", "json"]
        self._log_fh = open(self.log_path, "wb")
        # `ip netns exec` and taskset exec the program: this pid is weighbridge's own.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("weighbridge run exited with %d at start:\n%s"
                                   % (self.proc.returncode, self.log_text()[-2000:]))
            if self.events("running"):
                return
            time.sleep(0.1)
        raise RuntimeError("weighbridge run did not log \"running\" within %ds:\n%s"
                           % (timeout, self.log_text()[-2000:]))

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def log_lines(self):
        out = []
        for line in self.log_text().splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # e.g. DPDK's own output
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def events(self, name):
        return [l for l in self.log_lines() if l.get("event") == name]

    def wait_event(self, name, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.events(name)
            if len(ev) >= count:
                return ev
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        return self.events(name)

    def health(self):
        """GET /health from inside the namespace: (status code, JSON body or None)."""
        p = sh(["ip", "netns", "exec", self.ns, "curl", "-s", "-m", "3", "-o", "-", "-w",
                "\n%{http_code}", "http://127.0.0.1:9478/health"], check=False, timeout=10)
        text = p.stdout.decode("utf-8", "replace")
        body, _, code = text.rpartition("\n")
        try:
            return int(code), json.loads(body)
        except ValueError:
            return (int(code) if code.isdigit() else 0), None

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=30):
        """SIGTERM; returns (exit code or None if it had to be killed, seconds it took)."""
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is not None:
            self.rc = self.proc.returncode
            return self.rc, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.rc = None
        return self.rc, time.monotonic() - t0

    def stopped_line(self):
        ev = self.events("stopped")
        return ev[-1] if ev else None

    def alerts(self):
        if not os.path.exists(self.alerts_path):
            return []
        return wbtest.load_jsonl(self.alerts_path)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if getattr(self, "_log_fh", None):
            self._log_fh.close()
            self._log_fh = None


def latest_versions(alerts):
    """The highest version of each alert id."""
    best = {}
    for a in alerts:
        if a["id"] not in best or a["version"] > best[a["id"]]["version"]:
            best[a["id"]] = a
    return list(best.values())


class IperfServer:
    """A one-shot iperf3 server on `addr` inside `ns` (exits after one test)."""

    def __init__(self, topo, ns, addr, port=5201):
        self.addr = addr
        self.port = port
        self.proc = subprocess.Popen(
            topo.ns_cmd(ns, "iperf3", "-s", "-1", "-B", addr, "-p", str(port)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until it listens (bounded): ss inside the namespace.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            p = sh(topo.ns_cmd(ns, "ss", "-ltnH", "sport = :%d" % port), check=False)
            if p.stdout.strip():
                return
            time.sleep(0.05)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def iperf(topo, client_ns, server_ns, server_addr, size, reverse=False, streams=8,
          window="128K", timeout=60, port=5201, cpu=None, rate_per_stream=None):
    """One bounded iperf3 -n transfer; returns its -J report (dict) from the client."""
    server = IperfServer(topo, server_ns, server_addr, port)
    try:
        cmd = ["iperf3", "-c", server_addr, "-p", str(port), "-n", str(size), "-P", str(streams),
               "-w", window, "-J", "--connect-timeout", "3000"]
        if reverse:
            cmd.append("-R")
        if rate_per_stream:
            cmd += ["-b", rate_per_stream]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        p = sh(topo.ns_cmd(client_ns, *cmd), timeout=timeout, check=False)
        try:
            report = json.loads(p.stdout.decode("utf-8", "replace"))
        except json.JSONDecodeError:
            raise RuntimeError("iperf3 gave no JSON (rc %d): %s" % (p.returncode,
                                                                   p.stderr.decode()[-300:]))
        if report.get("error"):
            raise RuntimeError("iperf3: %s" % report["error"])
        return report
    finally:
        server.close()


def iperf_bytes(report):
    """(client-reported bytes sent, server-reported bytes received) of an iperf3 -J report."""
    end = report["end"]
    return int(end["sum_sent"]["bytes"]), int(end["sum_received"]["bytes"])


def scrape_metrics(ns, listen="127.0.0.1:9477"):
    """GET /metrics inside `ns`: {metric name: sum over its label sets}, or None when nothing
    answers there (metrics not wired into `run` in this build)."""
    p = sh(["ip", "netns", "exec", ns, "curl", "-s", "-f", "-m", "3",
            "http://%s/metrics" % listen], check=False, timeout=10)
    if p.returncode != 0:
        return None
    sums = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        # name{labels} value [timestamp]; label values may hold spaces, so cut at the last '}'.
        if "{" in line:
            name = line[:line.index("{")]
            rest = line[line.rindex("}") + 1:].split()
        else:
            name, *rest = line.split()
        try:
            sums[name] = sums.get(name, 0.0) + float(rest[0])
        except (IndexError, ValueError):
            continue
    return sums



class IperfRun:
    """An iperf3 -n transfer running in the background (server and client), bounded by the
    caller's wait(timeout); close() ends both."""

    def __init__(self, topo, client_ns, server_ns, server_addr, size, rate_per_stream=None,
                 streams=8, window="128K", port=5201, cpu=None):
        self.server = IperfServer(topo, server_ns, server_addr, port)
        cmd = ["iperf3", "-c", server_addr, "-p", str(port), "-n", str(size), "-P", str(streams),
               "-w", window, "-J", "--connect-timeout", "3000"]
        if rate_per_stream:
            cmd += ["-b", rate_per_stream]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        self.client = subprocess.Popen(topo.ns_cmd(client_ns, *cmd), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait(self, timeout):
        """The client's -J report, or None when it did not finish in time or gave no JSON."""
        try:
            out, _ = self.client.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        try:
            return json.loads(out.decode("utf-8", "replace"))
        except json.JSONDecodeError:
            return None

    def close(self):
        if self.client.poll() is None:
            self.client.kill()
            self.client.communicate(timeout=10)
        self.server.close()


# A webhook receiver for inside a namespace: appends each POST (path, headers, body) as a JSON
# line to argv[1]; listens on 127.0.0.1:argv[2]. Standard library only.
_RECEIVER = r"""
import http.server, json, sys
out = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        out.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in
                              self.headers.items()}, "body": body.decode("utf-8", "replace")})
                  + "\n")
        out.flush()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
"""


class WebhookReceiver:
    def __init__(self, ns, workdir, port=8099):
        self.path = os.path.join(workdir, "webhook.jsonl")
        self.url = "http://127.0.0.1:%d/hook" % port
        open(self.path, "w").close()
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
                                      _RECEIVER, self.path, str(port)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            p = sh(["ip", "netns", "exec", ns, "ss", "-ltnH", "sport = :%d" % port], check=False)
            if p.stdout.strip():
                return
            time.sleep(0.05)
        raise RuntimeError("the webhook receiver did not start")

    def requests(self):
        return wbtest.load_jsonl(self.path)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def check_webhooks(f, requests, alerts, secret):
    """Every alert version in the log was POSTed (retries may repeat one, with the same key),
    signed as ARCHITECTURE.md says."""
    import hashlib
    import hmac
    got = {}
    for r in requests:
        h = r["headers"]
        sig = dict(kv.split("=", 1) for kv in h.get("x-weighbridge-signature", "").split(",")
                   if "=" in kv)
        want = hmac.new(secret, ("%s.%s" % (sig.get("t", ""), r["body"])).encode(),
                        hashlib.sha256).hexdigest()
        f.check(hmac.compare_digest(want, sig.get("v1", "")),
                "webhook signature does not verify: %r" % h.get("x-weighbridge-signature"))
        body = json.loads(r["body"])
        key = "%s:%s" % (body["id"], body["version"])
        f.check(h.get("idempotency-key") == key, "Idempotency-Key %r for %s"
                % (h.get("idempotency-key"), key))
        got[key] = body
    for a in alerts:
        key = "%s:%s" % (a["id"], a["version"])
        if f.check(key in got, "alert %s in the log was not delivered to the webhook" % key):
            f.check(got[key]["payload_bytes"] == a["payload_bytes"],
                    "webhook body of %s differs from the alert log" % key)
