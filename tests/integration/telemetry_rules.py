#!/usr/bin/python3
"""The Prometheus rules, example configs and their unit tests, with the real tools:
`promtool check rules`, `promtool test rules` (config/prometheus/tests/*.test.yml: synthetic
series with hand-worked answers), `promtool check config` on the example scrape config and
`amtool check-config` on the example Alertmanager config. Also the dashboards' structure (uids,
datasource variable, targets) and that dashboards/generate.py wrote the JSON; the queries
themselves run against a live Prometheus in telemetry_prometheus.py."""

import argparse
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wbtest  # noqa: E402
from telemetry_prometheus import load_dashboards  # noqa: E402


def tool(cmd, cwd, failures, what):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60, check=False)
    out = p.stdout.decode("utf-8", "replace")
    failures.check(p.returncode == 0, "%s failed (exit %d):\n%s" % (what, p.returncode, out))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="")
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    if not shutil.which("promtool"):
        wbtest.skip("promtool not installed (Debian package prometheus)")
    failures = wbtest.Failures()
    dashboards = load_dashboards(args.source_dir, failures)
    print("%d dashboards, %d panels: structure ok unless listed above"
          % (len(dashboards), sum(len(x["panels"]) for _, x in dashboards)))
    gen = subprocess.run([sys.executable, os.path.join(args.source_dir, "dashboards",
                                                       "generate.py"), "--check"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False)
    failures.check(gen.returncode == 0, "dashboards/generate.py --check: %s"
                   % gen.stdout.decode().strip())
    d = os.path.join(args.source_dir, "config", "prometheus")
    rules = sorted(glob.glob(os.path.join(d, "*.rules.yml")))
    tests = sorted(glob.glob(os.path.join(d, "tests", "*.test.yml")))
    failures.check(len(rules) >= 2, "rule files: %r" % rules)
    failures.check(len(tests) >= 2, "rule tests: %r" % tests)
    out = tool(["promtool", "check", "rules", *rules], d, failures, "promtool check rules")
    print(out.strip())
    out = tool(["promtool", "test", "rules", *tests], d, failures, "promtool test rules")
    print(out.strip())
    failures.check(out.count("SUCCESS") == len(tests), "not every rule test file passed")
    out = tool(["promtool", "check", "config", "prometheus.example.yml"], d, failures,
               "promtool check config")
    print(out.strip())
    if shutil.which("amtool"):
        out = tool(["amtool", "check-config", "alertmanager.example.yml"], d, failures,
                   "amtool check-config")
        print(out.strip())
    else:
        print("amtool not installed (prometheus-alertmanager): example Alertmanager config "
              "not checked")
    failures.finish()


if __name__ == "__main__":
    main()
