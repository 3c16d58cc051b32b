"""Shared helpers for the weighbridge integration tests (standard library only).

Every test script exits 0 on success, 1 on failure and SKIP_CODE (registered as the CTest
SKIP_RETURN_CODE) when something it needs is missing, after printing "SKIP: <reason>".
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP_CODE = 77

# The flows-out keys of ARCHITECTURE.md "Flows out", in no particular order.
FLOW_KEYS = frozenset((
    "proto", "a", "a_port", "b", "b_port", "vlan", "a_to_b_bytes", "b_to_a_bytes",
    "a_to_b_packets", "b_to_a_packets", "a_to_b_payload_bytes", "b_to_a_payload_bytes",
    "first", "last"))

SUMMARY_KEYS = ("frames", "ip_packets", "ipv4_packets", "ipv6_packets", "bytes", "wire_bytes",
                "by_direction", "decode_errors", "flows", "transfers", "alerts", "input_error")


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP_CODE)


class Failures:
    """Collects assertion failures so that one run reports all of them."""

    def __init__(self):
        self.items = []

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
            print("FAIL: " + msg, flush=True)
        return cond

    def fail(self, msg):
        self.check(False, msg)

    def finish(self):
        if self.items:
            print("\n%d failure(s)" % len(self.items), flush=True)
            sys.exit(1)
        print("\nPASS", flush=True)
        sys.exit(0)


def require_binary(path):
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        skip("weighbridge binary not found at %r" % path)


def run(cmd, timeout=120, stdin_data=None, stdin_file=None):
    """Runs cmd; returns CompletedProcess with bytes stdout/stderr. Bounded by timeout."""
    kwargs = {}
    if stdin_file is not None:
        kwargs["stdin"] = stdin_file
    elif stdin_data is not None:
        kwargs["input"] = stdin_data
    else:
        kwargs["stdin"] = subprocess.DEVNULL
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          check=False, **kwargs)


def help_text(binary, *sub):
    """The --help text of `weighbridge SUB...` (stdout and stderr together), '' if it crashes."""
    try:
        p = run([binary, *sub, "--help"], timeout=20)
    except (subprocess.TimeoutExpired, OSError):
        return ""
    return (p.stdout + p.stderr).decode("utf-8", "replace")


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 free at the time of asking (TCP by default; SOCK_DGRAM for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """{(name, frozenset of (label, value) pairs): value} of a Prometheus exposition text."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'([a-zA-Z_]+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def wait_for(pred, seconds, step=0.1):
    """pred()'s first truthy value within `seconds` (polled every `step`), else its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def replay_supported(binary):
    """True when the binary has a replay command that understands --flows-out."""
    return "--flows-out" in help_text(binary, "replay")


def parse_flows(text, where):
    """Parses flows-out JSON lines into a list of dicts; raises ValueError naming the line."""
    flows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError("%s line %d is not JSON (%s): %r" % (where, n, e, line[:200]))
        if not isinstance(obj, dict):
            raise ValueError("%s line %d is not an object" % (where, n))
        flows.append(obj)
    return flows


def load_jsonl(path):
    """A JSON-lines file (flows, transfers, alerts, truth) as a list of dicts."""
    with open(path, encoding="utf-8") as fh:
        return parse_flows(fh.read(), path)


def flow_key(f):
    """Direction-free flow identity (proto, vlan, {endpoint, endpoint})."""
    ends = sorted([(str(f["a"]), int(f["a_port"])), (str(f["b"]), int(f["b_port"]))])
    return (int(f["proto"]), int(f["vlan"]), ends[0], ends[1])


def replay(binary, capture, workdir, extra=(), timeout=120, stdin_file=None):
    """Runs `weighbridge replay CAPTURE --flows-out - --summary-json F`.

    Returns (returncode, flows list or None, summary dict or None, stderr text, stdout bytes).
    """
    # A fresh name per call: callers run replays from several threads at once.
    fd, summary_path = tempfile.mkstemp(prefix="summary-", suffix=".json", dir=workdir)
    os.close(fd)
    os.unlink(summary_path)
    cmd = [binary, "replay", capture, "--flows-out", "-", "--summary-json", summary_path,
           *extra]
    p = run(cmd, timeout=timeout, stdin_file=stdin_file)
    stderr = p.stderr.decode("utf-8", "replace")
    flows = None
    try:
        flows = parse_flows(p.stdout.decode("utf-8", "replace"), "flows-out of " + capture)
    except ValueError as e:
        stderr += "\n[test] " + str(e)
    summary = None
    if os.path.exists(summary_path):
        try:
            with open(summary_path, encoding="utf-8") as fh:
                summary = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            stderr += "\n[test] summary is not JSON: %s" % e
        os.unlink(summary_path)
    return p.returncode, flows, summary, stderr, p.stdout


def temp_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    return d


def remove_dir(d):
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A small capture-file reader that behaves like libpcap 1.10 (the library the product reads
# files with): classic pcap in both byte orders and both timestamp precisions, and pcapng where
# every interface has the link type of the first one (libpcap refuses the file otherwise).
# It is ground truth for what a record *is* (frames, wire length), independent of the product.

class CaptureRead:
    def __init__(self):
        self.records = []      # (link_type, ts_ns, caplen, wire_len, data)
        self.error = None      # why reading stopped early, or None
        self.link_type = None  # the file's (first interface's) link type


# libpcap's limit on a record's captured length when the header's snaplen is smaller
# (pcap-common.c max_snaplen_for_dlt: 262144 for most link types).
_MAX_SNAPLEN = 262144


def read_capture(path):
    out = CaptureRead()
    with open(path, "rb") as fh:
        blob = fh.read()
    if len(blob) < 4:
        out.error = "file too short"
        return out
    magic = blob[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        _read_pcap(blob, out)
    elif magic == b"\x0a\x0d\x0d\x0a":
        _read_pcapng(blob, out)
    else:
        out.error = "unknown file format"
    return out


def _read_pcap(blob, out):
    le = blob[0] in (0xd4, 0x4d)
    nano = blob[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    e = "<" if le else ">"
    if len(blob) < 24:
        out.error = "truncated file header"
        return
    _, _, _, _, snaplen, linktype = struct.unpack(e + "HHiIII", blob[4:24])
    out.link_type = linktype & 0x03FFFFFF
    # libpcap (sf-pcap.c): a header snaplen of 0 or above the link type's maximum (262144 for
    # the types here) is replaced by that maximum; a record longer than the snaplen is cut to
    # it, and one longer than the maximum means a corrupt file.
    if snaplen == 0 or snaplen > _MAX_SNAPLEN:
        snaplen = _MAX_SNAPLEN
    off = 24
    while off < len(blob):
        if off + 16 > len(blob):
            out.error = "truncated record header at offset %d" % off
            return
        sec, frac, caplen, wire = struct.unpack(e + "IIII", blob[off:off + 16])
        if caplen > _MAX_SNAPLEN:
            out.error = "record at offset %d claims %d captured bytes" % (off, caplen)
            return
        if off + 16 + caplen > len(blob):
            out.error = "truncated record at offset %d" % off
            return
        ts = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        kept = min(caplen, snaplen)
        out.records.append((out.link_type, ts, kept, wire, blob[off + 16:off + 16 + kept]))
        off += 16 + caplen


def _read_pcapng(blob, out):
    off = 0
    e = "<"
    ifaces = []  # (link_type, ts_resol_ns)
    while off < len(blob):
        if off + 12 > len(blob):
            out.error = "truncated block header at offset %d" % off
            return
        btype = struct.unpack(e + "I", blob[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = blob[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack(e + "II", blob[off:off + 8])
        if blen < 12 or off + blen > len(blob):
            out.error = "truncated block at offset %d" % off
            return
        body = blob[off + 8:off + blen - 4]
        if btype == 0x00000001:  # IDB
            lt = struct.unpack(e + "H", body[0:2])[0]
            resol_ns = 1000  # default microseconds
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[opt:opt + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[opt + 4]
                    resol_ns = (10 ** 9) / (2 ** (v & 0x7F) if v & 0x80 else 10 ** v)
                opt += 4 + ((olen + 3) & ~3)
            if out.link_type is None:
                out.link_type = lt
            elif lt != out.link_type:
                # libpcap: "an interface has a type %u different from the type of the first
                # interface"; pcap_next_ex fails at this block.
                out.error = ("an interface has a type %d different from the type of the first "
                             "interface" % lt)
                return
            ifaces.append((lt, resol_ns))
        elif btype == 0x00000006:  # EPB
            iface, hi, lo, caplen, wire = struct.unpack(e + "IIIII", body[0:20])
            if iface >= len(ifaces):
                out.error = "packet for unknown interface %d" % iface
                return
            lt, resol_ns = ifaces[iface]
            ts = int(((hi << 32) | lo) * resol_ns)
            out.records.append((lt, ts, caplen, wire, body[20:20 + caplen]))
        elif btype == 0x00000003:  # SPB
            wire = struct.unpack(e + "I", body[0:4])[0]
            lt = ifaces[0][0] if ifaces else 1
            data = body[4:4 + wire]
            out.records.append((lt, 0, len(data), wire, data))
        off += blen


def write_pcap(path, link_type, records):
    """Writes records (link_type, ts_ns, caplen, wire, data) as a nanosecond classic pcap."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, _MAX_SNAPLEN, link_type))
        for _, ts, caplen, wire, data in records:
            fh.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, caplen, wire))
            fh.write(data)
