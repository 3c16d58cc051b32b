"""Per-flow ground truth from tshark, following the accounting rules of ARCHITECTURE.md.

tshark decodes every layer; this module picks, per frame, the IP layer weighbridge must account
(the innermost one reached through known encapsulations, never one quoted inside an ICMP error),
decides whether that packet is accountable at all (headers present and sane, transport header
captured), applies the fragment rule itself, and sums packets and L3 bytes per bidirectional
flow. docs/testing.md explains each rule and every place where it departs from tshark's view.
"""

import ipaddress
import subprocess

# Fields, one tshark call per file. With -E occurrence=a a field that occurs in several layers
# (an outer and an inner IP header) prints all occurrences, comma separated, in layer order.
FIELDS = (
    "frame.number", "frame.len", "frame.time_epoch", "frame.protocols", "vlan.id",
    "ip.src", "ip.dst", "ip.proto", "ip.len", "ip.hdr_len", "ip.id", "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.plen", "ipv6.opt.jumbo",
    "ipv6.hopopts.nxt", "ipv6.dstopts.nxt", "ipv6.routing.nxt", "ah.next_header",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "ipv6.fraghdr.ident",
    "tcp.srcport", "tcp.dstport", "tcp.hdr_len", "tcp.flags",
    "udp.srcport", "udp.dstport", "udp.length",
    "sctp.srcport", "sctp.dstport",
    "icmp.type", "icmpv6.type",
    "_ws.malformed", "_ws.short",
    "_ws.expert.message",  # last: free text that may hold the separator characters
)

# Preferences: no reassembly (each frame stands alone, as in the sensor), no heuristics first.
PREFS = ("ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE",
         "udp.try_heuristic_first:FALSE")

# IPv6 extension headers weighbridge walks to find the transport (RFC 8200 section 4; AH is
# walked as an extension header too, since its length field is self-describing).
EXT_TOKENS = {
    "ipv6.hopopts": "ipv6.hopopts.nxt",
    "ipv6.dstopts": "ipv6.dstopts.nxt",
    "ipv6.routing": "ipv6.routing.nxt",
    "ipv6.fraghdr": "ipv6.fraghdr.nxt",
    "ah": "ah.next_header",
}
# Tokens that may sit between a tunnel's carrier and its inner IP packet.
TUNNEL_INNER_TOKENS = {"eth", "ethertype", "vlan", "mpls", "erspan", "ppp", "pppoes"}
UDP_TUNNELS = {"vxlan", "geneve", "gtp"}

FRAGMENT_TIMEOUT_NS = 30 * 1_000_000_000  # capture::DecodeOptions::fragment_timeout
# When one 5-tuple becomes a new flow (analytics::PipelineOptions defaults, `pipeline:` config):
IDLE_TIMEOUT_NS = 60 * 1_000_000_000   # a flow silent this long has ended
CLOSE_LINGER_NS = 5 * 1_000_000_000    # after RST, or FIN both ways, a flow ends this much sooner
TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10

# SCTP (like TCP, UDP, DCCP and UDP-Lite) has ports, so its flows are port pairs: the decoder reads
# them, and the truth uses tshark's sctp.srcport/dstport. False would expect ports 0.
SCTP_PORTS = True


def tshark_cmd(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t",
           "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    for p in PREFS:
        cmd += ["-o", p]
    return cmd


def run_tshark(path, timeout=240):
    """Returns (rows, stderr). Each row is a dict field -> list of occurrence strings."""
    p = subprocess.run(tshark_cmd(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    rows = []
    nf = len(FIELDS)
    for line in p.stdout.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        cols = line.split("\t", nf - 1)
        if len(cols) < nf:
            cols += [""] * (nf - len(cols))
        row = {}
        for name, val in zip(FIELDS, cols):
            if name in ("_ws.expert.message", "frame.protocols"):
                row[name] = val
            else:
                row[name] = val.split(",") if val != "" else []
        rows.append(row)
    return rows, p.stderr.decode("utf-8", "replace"), p.returncode


def _get(row, field, idx):
    vals = row[field]
    if idx < len(vals) and vals[idx] != "":
        return vals[idx]
    return None


def _int(s):
    if s is None:
        return None
    s = s.strip()
    if s in ("True", "true"):
        return 1
    if s in ("False", "false"):
        return 0
    return int(s, 16) if s.lower().startswith("0x") else int(s)


def _time_ns(epoch):
    # "1508360735.834163000" -> nanoseconds since the epoch
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def norm_addr(a):
    return ipaddress.ip_address(a).compressed


class Packet:
    __slots__ = ("v6", "src", "dst", "proto", "sport", "dport", "l3", "ts_us", "vlan")


class Truth:
    def __init__(self):
        self.frames = 0
        self.wire_bytes = 0
        self.ip_packets = 0
        self.ipv4_packets = 0
        self.ipv6_packets = 0
        self.bytes = 0
        self.non_ip = 0             # frames without any IP layer
        self.not_accounted = {}     # why tshark-visible IP packets are not accounted -> count
        self.fragments_unmatched = 0
        self.sctp_packets = 0       # accounted SCTP packets (ports 0 unless SCTP_PORTS)
        # flow key -> the flows of that key in order (a key starts a new flow after an idle
        # timeout or a closed connection), each a dict in the flows-out shape with times in
        # microseconds (first_us, last_us)
        self.flows = {}

    def flow_count(self):
        return sum(len(v) for v in self.flows.values())


def _occurrence_index(tokens, pos):
    return sum(1 for t in tokens[:pos] if t == tokens[pos])


def _select_layer(tokens):
    """Token position of the IP layer to account, or None when the frame has no IP."""
    n = len(tokens)
    pos = next((i for i, t in enumerate(tokens) if t in ("ip", "ipv6")), None)
    if pos is None:
        return None
    while True:
        j = pos + 1
        while j < n and tokens[j] in EXT_TOKENS:
            j += 1
        if j >= n:
            return pos
        t = tokens[j]
        nxt = None
        if t in ("ip", "ipv6"):  # IP-in-IP, 6in4, 4in6
            nxt = j
        elif t == "gre" or (t == "udp" and j + 1 < n and tokens[j + 1] in UDP_TUNNELS):
            k = j + (1 if t == "gre" else 2)
            while k < n and tokens[k] in TUNNEL_INNER_TOKENS:
                k += 1
            if k < n and tokens[k] in ("ip", "ipv6"):
                nxt = k
        if nxt is None:
            return pos
        pos = nxt


def _layer(row, tokens, pos):
    """Decodes the IP layer at token position pos. Returns (packet-ish dict, reason or None)."""
    idx = _occurrence_index(tokens, pos)
    expert = row["_ws.expert.message"]
    malformed = bool(row["_ws.malformed"] or row["_ws.short"])
    d = {"v6": tokens[pos] == "ipv6", "first_frag": True, "frag": False}
    if not d["v6"]:
        src, dst = _get(row, "ip.src", idx), _get(row, "ip.dst", idx)
        proto = _int(_get(row, "ip.proto", idx))
        tot, hl = _int(_get(row, "ip.len", idx)), _int(_get(row, "ip.hdr_len", idx))
        if src is None or dst is None or proto is None or tot is None or hl is None:
            return d, "bad_ipv4_header"
        if hl < 20 or tot < hl:
            return d, "bad_ipv4_header"
        if "IPv4 total length exceeds packet length" in expert:
            return d, "ip_length_exceeds_frame"
        d.update(src=src, dst=dst, proto=proto, l3=tot, ihl=hl)
        mf = _int(_get(row, "ip.flags.mf", idx)) or 0
        off = _int(_get(row, "ip.frag_offset", idx)) or 0
        d["frag"] = bool(mf or off)
        d["first_frag"] = off == 0
        d["frag_id"] = _int(_get(row, "ip.id", idx))
        j = pos + 1
    else:
        src, dst = _get(row, "ipv6.src", idx), _get(row, "ipv6.dst", idx)
        plen, proto = _int(_get(row, "ipv6.plen", idx)), _int(_get(row, "ipv6.nxt", idx))
        if src is None or dst is None or plen is None or proto is None:
            return d, "bad_ipv6_header"
        if "IPv6 payload length exceeds framing length" in expert:
            return d, "ip_length_exceeds_frame"
        l3 = plen + 40
        if plen == 0:
            jumbo = _int(_get(row, "ipv6.opt.jumbo", 0))
            if jumbo is not None:
                l3 = jumbo + 40
        j = pos + 1
        while j < len(tokens) and tokens[j] in EXT_TOKENS:
            field = EXT_TOKENS[tokens[j]]
            v = _int(_get(row, field, _occurrence_index(tokens, j)))
            if v is None:
                return d, "truncated_ipv6_ext_header"
            proto = v
            if tokens[j] == "ipv6.fraghdr":
                fi = _occurrence_index(tokens, j)
                off = _int(_get(row, "ipv6.fraghdr.offset", fi)) or 0
                d["frag"] = True
                d["first_frag"] = off == 0
                d["frag_id"] = _int(_get(row, "ipv6.fraghdr.ident", fi))
            j += 1
        if malformed and j >= len(tokens) and tokens[j - 1] in EXT_TOKENS:
            return d, "truncated_ipv6_ext_header"
        d.update(src=src, dst=dst, proto=proto, l3=l3)
    d["sport"] = d["dport"] = 0
    d["tcp_flags"] = 0
    if not d["first_frag"]:
        return d, None
    # The transport header must be captured and sane (first fragments and whole packets).
    t = tokens[j] if j < len(tokens) else None
    last = j == len(tokens) - 1
    proto = d["proto"]
    if proto in (6, 17, 132):
        name = {6: "tcp", 17: "udp", 132: "sctp"}[proto]
        # The transport's length in the IP packet (IPv4: total length - header length; for
        # IPv6 the extension headers' lengths are not summed here, so None).
        l4_len = None if d["v6"] else d["l3"] - d["ihl"]
        ti = _occurrence_index(tokens, j) if t == name else None
        sp = _int(_get(row, name + ".srcport", ti)) if ti is not None else None
        dp = _int(_get(row, name + ".dstport", ti)) if ti is not None else None
        tiny = {6: 20, 17: 8}.get(proto)
        if d["frag"] and l4_len is not None and tiny is not None and l4_len < tiny:
            # A first fragment too short for its transport header (RFC 1858 tiny fragment, or
            # a tiny MTU): the header continues in the next fragment. Accounted, with the ports
            # when this fragment holds them, so that the rest of the datagram joins the same
            # flow (capture/decode.cc TinyFirstFragment). tshark shows those ports too.
            if l4_len >= 4 and sp is not None and dp is not None:
                d["sport"], d["dport"] = sp, dp
            return d, None
        if t != name or sp is None or dp is None:
            return d, "truncated_" + name
        if proto == 6:
            hl = _int(_get(row, "tcp.hdr_len", ti))
            if hl is None:
                return d, "truncated_tcp"
            # A header longer than the packet is bad, except in a first fragment, where the
            # options may continue in the next fragment.
            if hl < 20 or (l4_len is not None and hl > l4_len and not d["frag"]):
                return d, "bad_tcp_data_offset"
            d["tcp_flags"] = _int(_get(row, "tcp.flags", ti)) or 0
        if proto == 17:
            ul = _int(_get(row, "udp.length", ti))
            if ul is None:
                return d, "truncated_udp"
            if ul < 8 and not (ul == 0 and d["v6"]):
                return d, "bad_udp_length"
        if malformed and last:
            return d, "truncated_" + name
        if proto != 132 or SCTP_PORTS:
            d["sport"], d["dport"] = sp, dp
    elif proto in (1, 58):
        name = "icmp" if proto == 1 else "icmpv6"
        if t != name or _get(row, name + ".type", _occurrence_index(tokens, j)) is None:
            return d, "truncated_icmp"
        if malformed and last:
            return d, "truncated_icmp"
    return d, None


def compute(rows):
    """Sums tshark's frames into a Truth."""
    tr = Truth()
    frag_table = {}  # (v6, src, dst, proto, id) -> (sport, dport, ts_ns)
    active = {}      # flow key -> the flow the key's next packet may join
    for row in rows:
        tr.frames += 1
        tr.wire_bytes += _int(row["frame.len"][0]) if row["frame.len"] else 0
        tokens = row["frame.protocols"].split(":") if row["frame.protocols"] else []
        pos = _select_layer(tokens)
        if pos is None:
            tr.non_ip += 1
            continue
        d, reason = _layer(row, tokens, pos)
        if reason:
            tr.not_accounted[reason] = tr.not_accounted.get(reason, 0) + 1
            continue
        ts_ns = _time_ns(row["frame.time_epoch"][0])
        src, dst = norm_addr(d["src"]), norm_addr(d["dst"])
        sport, dport = d["sport"], d["dport"]
        if d["frag"]:
            fkey = (d["v6"], src, dst, d["proto"], d["frag_id"])
            if d["first_frag"]:
                frag_table[fkey] = (sport, dport, ts_ns)
            else:
                hit = frag_table.get(fkey)
                if hit is not None and ts_ns - hit[2] <= FRAGMENT_TIMEOUT_NS:
                    sport, dport = hit[0], hit[1]
                else:
                    tr.fragments_unmatched += 1
        tr.ip_packets += 1
        if d["v6"]:
            tr.ipv6_packets += 1
        else:
            tr.ipv4_packets += 1
        tr.bytes += d["l3"]
        if d["proto"] == 132:
            tr.sctp_packets += 1
        vlan = _int(row["vlan.id"][0]) if row["vlan.id"] else 0
        ends = sorted([(src, sport), (dst, dport)])
        key = (d["proto"], vlan, ends[0], ends[1])
        flags = d["tcp_flags"] if d["first_frag"] else 0
        f = active.get(key)
        if f is not None:
            # The flow table's rule: a key's flow has ended after an idle timeout, sooner once
            # the connection closed (RST, or FIN both ways), and at once when a closed
            # connection's tuple sees a new SYN.
            quiet = ts_ns - f["last_ns"]
            reused = f["closing"] and (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN
            if reused or quiet >= (CLOSE_LINGER_NS if f["closing"] else IDLE_TIMEOUT_NS):
                f = None
        if f is None:
            f = {"proto": d["proto"], "a": src, "a_port": sport, "b": dst, "b_port": dport,
                 "vlan": vlan, "a_to_b_bytes": 0, "b_to_a_bytes": 0, "a_to_b_packets": 0,
                 "b_to_a_packets": 0, "first_ns": ts_ns, "last_ns": ts_ns,
                 "closing": False, "fin_ab": False, "fin_ba": False}
            active[key] = f
            tr.flows.setdefault(key, []).append(f)
        # A packet from an endpoint to itself (same address and port) counts as a -> b.
        a_to_b = (src, sport) == (f["a"], f["a_port"])
        if a_to_b:
            f["a_to_b_bytes"] += d["l3"]
            f["a_to_b_packets"] += 1
        else:
            f["b_to_a_bytes"] += d["l3"]
            f["b_to_a_packets"] += 1
        if d["proto"] == 6 and d["first_frag"]:
            if flags & TCP_FIN:
                f["fin_ab" if a_to_b else "fin_ba"] = True
            if flags & TCP_RST or (f["fin_ab"] and f["fin_ba"]):
                f["closing"] = True
        f["first_ns"] = min(f["first_ns"], ts_ns)
        f["last_ns"] = max(f["last_ns"], ts_ns)
    for instances in tr.flows.values():
        for f in instances:
            f["first_us"] = f["first_ns"] // 1000
            f["last_us"] = f["last_ns"] // 1000
    return tr
