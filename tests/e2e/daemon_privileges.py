#!/usr/bin/python3
"""daemon_privileges: `weighbridge run` started as root opens its capture, then runs as
daemon.user, and still captures.

A veth between two namespaces (daemon_lib.Topology); the daemon captures with libpcap on the dc
end with `daemon: {user: nobody}`, and 20 UDP datagrams are sent over the veth. Asserted: the process's real, effective, saved and file-system
uids and gids are nobody's once it logs "running" (read from /proc, not from the daemon's own
word); it cannot regain root (its capability sets are empty); the 20 datagrams are all
counted (/health packets >= 20); SIGTERM exits 0.

usage: daemon_privileges.py --binary PATH
"""

import argparse
import os
import pwd
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_lib as d  # noqa: E402

PEER = "198.51.100.2"


def status_fields(pid):
    out = {}
    with open("/proc/%d/status" % pid, encoding="utf-8") as fh:
        for line in fh:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    d.wbtest.require_binary(args.binary)
    d.require_root_tools("ethtool", "curl")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        d.wbtest.skip("no user 'nobody' on this machine")
    f = d.Failures()
    work = d.wbtest.temp_dir("wb-e2e-priv-")
    daemon = None
    try:
        with d.Topology("p", [PEER]) as topo:
            config = d.base_config(work, d.pcap_config(topo.dc_if)).replace(
                "daemon: {log_format: json", "daemon: {user: nobody, log_format: json")
            daemon = d.Daemon(args.binary, topo.dc, work, config)
            daemon.start()
            st = status_fields(daemon.proc.pid)
            f.check(st["Uid"] == [str(nobody.pw_uid)] * 4, "Uid %r, want nobody's %d four times"
                    % (st["Uid"], nobody.pw_uid))
            f.check(st["Gid"] == [str(nobody.pw_gid)] * 4, "Gid %r, want nobody's %d four times"
                    % (st["Gid"], nobody.pw_gid))
            for cap in ("CapEff", "CapPrm"):
                f.check(int(st[cap][0], 16) == 0, "%s %s: capabilities kept" % (cap, st[cap][0]))
            f.check(daemon.events("privileges"), "no privileges log line")
            sender = ("import socket, time\n"
                      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "for i in range(20):\n"
                      "    s.sendto(b'x' * 100, ('%s', 9999)); time.sleep(0.02)\n" % PEER)
            d.sh(topo.ns_cmd(topo.dc, "/usr/bin/python3", "-c", sender), timeout=30)
            code, body = 0, None
            for _ in range(50):  # the capture's 10 ms poll plus the health probe: well under 5 s
                code, body = daemon.health()
                if body and body.get("packets", 0) >= 20:
                    break
                time.sleep(0.1)
            f.check(code == 200 and body is not None and body.get("packets", 0) >= 20,
                    "/health after 20 datagrams as nobody: %r %r" % (code, body))
            rc, took = daemon.stop()
            f.check(rc == 0, "SIGTERM exit %r after %.2f s" % (rc, took))
            print("run as nobody (uid %d): health %r, exit %r" % (nobody.pw_uid,
                                                                  body and body.get("packets"),
                                                                  rc))
    finally:
        if daemon is not None:
            daemon.close()
        d.wbtest.remove_dir(work)
    f.finish()


if __name__ == "__main__":
    main()
