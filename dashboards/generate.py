#!/usr/bin/env python3
"""Writes the weighbridge Grafana dashboards (dashboards/*.json) from the panel lists below.

The JSON files are what Grafana provisions and what the tests check; edit the lists here and run
`python3 dashboards/generate.py` (or `--check` to verify the files are up to date). Uids are fixed
by hand: links and bookmarks rely on them, so never change one.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
RI = "$__rate_interval"


def target(expr, legend="", instant=False, ref="A"):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t["instant"] = True
        t["range"] = False
        t["format"] = "table"
    return t


def panel(kind, title, targets, unit="short", desc="", w=12, h=8, options=None, stack=False,
          max_value=None):
    p = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": options or {},
        "gridPos": {"w": w, "h": h},
    }
    if max_value is not None:
        p["fieldConfig"]["defaults"]["max"] = max_value
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line", "fillOpacity": 10,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    return p


def layout(panels):
    """Fills in ids and grid positions, left to right in rows of 24 columns."""
    x = y = row_h = 0
    for i, p in enumerate(panels, 1):
        p["id"] = i
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        row_h = max(row_h, h)
    return panels


def dashboard(uid, title, description, panels):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["weighbridge"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "links": [{"type": "dashboards", "tags": ["weighbridge"], "asDropdown": False,
                   "title": "weighbridge", "includeVars": True, "keepTime": True}],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0, "refresh": 1},
            {"name": "instance", "label": "Sensor", "type": "query", "datasource": DS,
             "query": {"query": "label_values(weighbridge_build_info, instance)",
                       "refId": "instance"},
             "definition": "label_values(weighbridge_build_info, instance)",
             "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "hide": 0,
             "refresh": 2, "sort": 1},
        ]},
        "annotations": {"list": []},
        "panels": layout(panels),
    }


OVERVIEW = dashboard(
    "weighbridge-overview", "weighbridge / Overview",
    "Traffic in and out of the site, transfers, alerts, ingest windows and the biggest peers.",
    [
        panel("timeseries", "Traffic in / out", [
            target('sum by (direction) (rate(weighbridge_bytes_total{%s,direction=~"inbound|outbound"}[%s])) * 8' % (SEL, RI), "{{direction}}")],
            unit="bps", desc="L3 bits per second through the sensor, by direction relative to the site (flow tables, live)."),
        panel("timeseries", "Internal and transit traffic", [
            target('sum by (direction) (rate(weighbridge_bytes_total{%s,direction=~"internal|transit"}[%s])) * 8' % (SEL, RI), "{{direction}}")],
            unit="bps", desc="East-west (inside to inside) and transit bits per second."),
        panel("stat", "Active transfers", [
            target('sum by (kind) (weighbridge_transfers_active{%s})' % SEL, "{{kind}}")],
            w=6, h=6, desc="Transfers running now: one inside host with one external peer group."),
        panel("stat", "Alerts active", [
            target('sum by (kind) (weighbridge_alerts_active{%s})' % SEL, "{{kind}}")],
            w=6, h=6, desc="Alerts whose latest version is active."),
        panel("bargauge", "Alerts raised (time range)", [
            target('sum by (kind, severity) (increase(weighbridge_alerts_total{%s}[$__range]))' % SEL, "{{kind}} {{severity}}")],
            w=12, h=6, desc="Distinct alerts raised in the dashboard's time range, by kind and first severity.",
            options={"displayMode": "gradient", "orientation": "horizontal"}),
        panel("bargauge", "Ingest windows against thresholds", [
            target('max by (window) (weighbridge_ingest_window_bytes{%s}) / max by (window) (weighbridge_ingest_window_threshold_bytes{%s})' % (SEL, SEL), "{{window}}")],
            unit="percentunit", max_value=1, w=12,
            desc="Largest inbound payload one external group sent within each detect.ingest window, as a share of the window's threshold (1 = alert).",
            options={"displayMode": "gradient", "orientation": "horizontal"}),
        panel("timeseries", "Ingest window volume and threshold", [
            target('max by (window) (weighbridge_ingest_window_bytes{%s})' % SEL, "{{window}} volume"),
            target('max by (window) (weighbridge_ingest_window_threshold_bytes{%s})' % SEL, "{{window}} threshold")],
            unit="bytes", w=12),
        panel("table", "Biggest external peer groups (last window)", [
            target('topk(10, sum by (group, direction) (weighbridge_top_peer_group_bytes{%s}))' % SEL, instant=True)],
            unit="bytes", desc="Top external /24 and /48 groups by L3 bytes in the last complete window (weighbridge_top_window_seconds)."),
        panel("table", "Biggest inside hosts (last window)", [
            target('topk(10, sum by (host, direction) (weighbridge_top_inside_host_bytes{%s}))' % SEL, instant=True)],
            unit="bytes"),
        panel("timeseries", "Flow traffic by family", [
            target('sum by (family, direction) (rate(weighbridge_flow_bytes_total{%s}[%s])) * 8' % (SEL, RI), "{{family}} {{direction}}")],
            unit="bps", w=24, desc="Bits per second as reported in flow updates (they lag the packets by up to the active timeout)."),
    ])

TRANSFERS = dashboard(
    "weighbridge-transfers", "weighbridge / Transfers and ingest",
    "Transfer and ingest drill-down: transfers by kind and size, peers and hosts by window, ingest windows, alert versions.",
    [
        panel("timeseries", "Transfers active by kind", [
            target('sum by (kind) (weighbridge_transfers_active{%s})' % SEL, "{{kind}}")], w=8),
        panel("timeseries", "Transfers started / ended", [
            target('sum by (kind) (rate(weighbridge_transfers_started_total{%s}[%s]))' % (SEL, RI), "started {{kind}}"),
            target('sum by (kind) (rate(weighbridge_transfers_ended_total{%s}[%s]))' % (SEL, RI), "ended {{kind}}")],
            unit="ops", w=8),
        panel("timeseries", "Largest running transfer", [
            target('max by (kind) (weighbridge_transfer_largest_active_payload_bytes{%s})' % SEL, "{{kind}}")],
            unit="bytes", w=8, desc="Payload so far of the largest transfer still running."),
        panel("bargauge", "Ended transfers by size", [
            target('sum by (le) (increase(weighbridge_transfer_payload_bytes_bucket{%s}[$__range]))' % SEL, "{{le}}", instant=True)],
            w=12, desc="Transfers ended in the time range, cumulative by payload bucket (le, bytes).",
            options={"displayMode": "basic", "orientation": "horizontal"}),
        panel("timeseries", "Transfer payload quantiles", [
            target('histogram_quantile(0.5, sum by (le) (rate(weighbridge_transfer_payload_bytes_bucket{%s}[$__range])))' % SEL, "p50"),
            target('histogram_quantile(0.99, sum by (le) (rate(weighbridge_transfer_payload_bytes_bucket{%s}[$__range])))' % SEL, "p99")],
            unit="bytes", w=12),
        panel("timeseries", "Ingest window fill", [
            target('max by (window) (weighbridge_ingest_window_bytes{%s}) / max by (window) (weighbridge_ingest_window_threshold_bytes{%s})' % (SEL, SEL), "{{window}}")],
            unit="percentunit", w=12),
        panel("timeseries", "Inbound payload", [
            target('sum by (family) (rate(weighbridge_flow_payload_bytes_total{%s,direction="inbound"}[%s])) * 8' % (SEL, RI), "{{family}}")],
            unit="bps", w=12, desc="Transport payload into the site: what dataset_ingest thresholds count."),
        panel("timeseries", "Peer groups: bytes in the last window", [
            target('topk(10, sum by (group, direction) (weighbridge_top_peer_group_bytes{%s}))' % SEL, "{{group}} {{direction}}")],
            unit="bytes", w=12),
        panel("timeseries", "Peer groups: bytes per second", [
            target('sum by (group, direction) (weighbridge_top_peer_group_bytes{%s}) / on() group_left() max(weighbridge_top_window_seconds{%s})' % (SEL, SEL), "{{group}} {{direction}}")],
            unit="Bps", w=12, desc="Last window's bytes over the window length."),
        panel("timeseries", "Inside hosts: bytes in the last window", [
            target('topk(10, sum by (host, direction) (weighbridge_top_inside_host_bytes{%s}))' % SEL, "{{host}} {{direction}}")],
            unit="bytes", w=12),
        panel("timeseries", "Alert versions by kind and state", [
            target('sum by (kind, state) (increase(weighbridge_alert_updates_total{%s}[%s]))' % (SEL, RI), "{{kind}} {{state}}")],
            w=12),
        panel("timeseries", "Latest alert by kind", [
            target('max by (kind) (weighbridge_alert_last_timestamp_seconds{%s}) * 1000' % SEL, "{{kind}}")],
            unit="dateTimeAsIso", w=12, desc="Wall time of each kind's latest alert version (0: none yet)."),
    ])

HEALTH = dashboard(
    "weighbridge-sensor-health", "weighbridge / Sensor health",
    "Is the sensor seeing everything? Drops, decode errors, flow tables, lag, latency, history and alert deliveries.",
    [
        panel("timeseries", "Capture drops", [
            target('sum by (source, where) (rate(weighbridge_capture_drops_total{%s}[%s]))' % (SEL, RI), "{{source}} {{where}}")],
            unit="pps", w=8, desc="Packets lost below the sensor: kernel buffer, interface, NIC imissed / ierrors / rx_nombuf."),
        panel("timeseries", "Ring-full drops per shard", [
            target('sum by (shard) (rate(weighbridge_ring_full_drops_total{%s}[%s]))' % (SEL, RI), "shard {{shard}}")],
            unit="pps", w=8),
        panel("timeseries", "Received by the kernel / NIC", [
            target('sum by (source) (rate(weighbridge_capture_received_packets_total{%s}[%s]))' % (SEL, RI), "{{source}}")],
            unit="pps", w=8),
        panel("timeseries", "Frames and IP packets", [
            target('sum(rate(weighbridge_frames_total{%s}[%s]))' % (SEL, RI), "frames"),
            target('sum by (family) (rate(weighbridge_ip_packets_total{%s}[%s]))' % (SEL, RI), "{{family}}"),
            target('sum by (direction) (rate(weighbridge_packets_total{%s}[%s]))' % (SEL, RI), "{{direction}}"),
            target('sum by (family) (rate(weighbridge_flow_packets_total{%s}[%s]))' % (SEL, RI), "{{family}} (flow updates)")],
            unit="pps", w=12),
        panel("timeseries", "Decode errors by reason", [
            target('sum by (reason) (rate(weighbridge_decode_errors_total{%s}[%s]))' % (SEL, RI), "{{reason}}"),
            target('sum(rate(weighbridge_fragments_unmatched_total{%s}[%s]))' % (SEL, RI), "fragments_unmatched")],
            unit="pps", w=12, desc="Frames skipped by the decoder; reasons in docs/decode-reasons.md."),
        panel("timeseries", "Wire bytes read", [
            target('sum(rate(weighbridge_wire_bytes_total{%s}[%s])) * 8' % (SEL, RI), "wire")],
            unit="bps", w=8),
        panel("timeseries", "Flow table load", [
            target('max by (shard) (weighbridge_flow_table_load_ratio{%s})' % SEL, "shard {{shard}}")],
            unit="percentunit", w=8, max_value=1),
        panel("timeseries", "Active flows", [
            target('sum by (shard) (weighbridge_flow_table_active_flows{%s})' % SEL, "shard {{shard}}"),
            target('sum(weighbridge_flow_table_capacity_flows{%s})' % SEL, "capacity")],
            w=8),
        panel("timeseries", "Flows created, ended, evicted", [
            target('sum(rate(weighbridge_flow_table_flows_created_total{%s}[%s]))' % (SEL, RI), "created"),
            target('sum by (reason) (rate(weighbridge_flows_ended_total{%s}[%s]))' % (SEL, RI), "ended {{reason}}"),
            target('sum(rate(weighbridge_flow_table_evictions_total{%s}[%s]))' % (SEL, RI), "evicted"),
            target('sum(rate(weighbridge_flows_started_total{%s}[%s]))' % (SEL, RI), "started (updates)")],
            unit="ops", w=12),
        panel("timeseries", "Packets per shard", [
            target('sum by (shard) (rate(weighbridge_shard_packets_total{%s}[%s]))' % (SEL, RI), "shard {{shard}}")],
            unit="pps", w=12, desc="An uneven spread means a few very large flows or a poor hash."),
        panel("timeseries", "Pipeline lag", [
            target('max(weighbridge_pipeline_lag_seconds{%s})' % SEL, "lag")],
            unit="s", w=8, desc="Wall time minus stream time. Live: how late alerts come. Replays of old captures show the capture's age."),
        panel("timeseries", "Stream time", [
            target('max(weighbridge_stream_time_seconds{%s}) * 1000' % SEL, "stream time")],
            unit="dateTimeAsIso", w=8),
        panel("timeseries", "Burst processing latency", [
            target('histogram_quantile(0.5, sum by (le) (rate(weighbridge_burst_processing_seconds_bucket{%s}[%s])))' % (SEL, RI), "p50"),
            target('histogram_quantile(0.99, sum by (le) (rate(weighbridge_burst_processing_seconds_bucket{%s}[%s])))' % (SEL, RI), "p99"),
            target('sum(rate(weighbridge_burst_processing_seconds_sum{%s}[%s])) / sum(rate(weighbridge_burst_processing_seconds_count{%s}[%s]))' % (SEL, RI, SEL, RI), "mean")],
            unit="s", w=8, desc="Wall time from one burst's read to the next read: hand-off to the shards, including waits on a full ring."),
        panel("timeseries", "Flow updates and late merges", [
            target('sum(rate(weighbridge_flow_updates_total{%s}[%s]))' % (SEL, RI), "updates"),
            target('sum(rate(weighbridge_merger_late_updates_total{%s}[%s]))' % (SEL, RI), "late")],
            unit="ops", w=12),
        panel("timeseries", "Alert deliveries", [
            target('sum by (receiver, result) (rate(weighbridge_alert_deliveries_total{%s}[%s]))' % (SEL, RI), "{{receiver}} {{result}}")],
            unit="ops", w=12),
        panel("timeseries", "History writes and drops", [
            target('sum(rate(weighbridge_history_records_written_total{%s}[%s]))' % (SEL, RI), "written"),
            target('sum(rate(weighbridge_history_dropped_records_total{%s}[%s]))' % (SEL, RI), "dropped")],
            unit="ops", w=8),
        panel("timeseries", "History queue depth", [
            target('max(weighbridge_history_queue_depth_records{%s})' % SEL, "queue")],
            w=8),
        panel("stat", "History database size", [
            target('max(weighbridge_history_db_size_bytes{%s})' % SEL, "db size")],
            unit="bytes", w=8),
        panel("table", "Sensors", [
            target('max by (instance, version) (weighbridge_build_info{%s})' % SEL, instant=True)],
            w=24, h=5, desc="Version of each sensor (weighbridge_build_info)."),
    ])

FLOW_INPUTS = dashboard(
    "weighbridge-flow-inputs", "weighbridge / Flow inputs and export",
    "sFlow, IPFIX and NetFlow inputs: datagrams, what was dropped and why, samples and records, templates, the interface counters sFlow agents report; and the IPFIX export of weighbridge's own flows.",
    [
        panel("timeseries", "Datagrams received", [
            target('sum by (source) (rate(weighbridge_flow_input_datagrams_total{%s}[%s]))' % (SEL, RI), "{{source}}")],
            unit="pps", w=8, desc="Flow-protocol datagrams per input, allowed or not."),
        panel("timeseries", "Dropped by reason", [
            target('sum by (source, reason) (rate(weighbridge_flow_input_dropped_total{%s}[%s])) > 0' % (SEL, RI), "{{source}} {{reason}}"),
            target('sum(rate(weighbridge_flow_input_dropped_total{%s}[%s]))' % (SEL, RI), "all reasons")],
            unit="ops", w=8, desc="Datagrams, sets, samples or records dropped; reasons in docs/flow-protocols.md. exporter_not_allowed: an exporter missing from the input's `exporters`."),
        panel("timeseries", "Samples, records and interface reports", [
            target('sum by (source) (rate(weighbridge_flow_input_samples_total{%s}[%s]))' % (SEL, RI), "{{source}} samples"),
            target('sum by (source) (rate(weighbridge_flow_input_records_total{%s}[%s]))' % (SEL, RI), "{{source}} records"),
            target('sum by (source) (rate(weighbridge_flow_input_interface_reports_total{%s}[%s]))' % (SEL, RI), "{{source}} interface reports")],
            unit="ops", w=8),
        panel("timeseries", "Templates", [
            target('sum by (source, event) (rate(weighbridge_flow_input_templates_total{%s}[%s]))' % (SEL, RI), "{{source}} {{event}}")],
            unit="ops", w=8, desc="IPFIX / NetFlow v9 templates learned (or refreshed), withdrawn and expired."),
        panel("timeseries", "Interface throughput (agents' counters)", [
            target('sum by (agent, ifindex, direction) (rate(weighbridge_sflow_interface_octets_total{%s}[%s])) * 8' % (SEL, RI), "{{agent}} if{{ifindex}} {{direction}}")],
            unit="bps", w=16, desc="What the sFlow agents count on their interfaces: the unsampled total to compare the sampled estimates with."),
        panel("timeseries", "Interface packets, discards and errors", [
            target('sum by (agent, ifindex, direction) (rate(weighbridge_sflow_interface_packets_total{%s}[%s]))' % (SEL, RI), "{{agent}} if{{ifindex}} {{direction}} packets"),
            target('sum by (agent, ifindex, direction) (rate(weighbridge_sflow_interface_discards_total{%s}[%s]))' % (SEL, RI), "{{agent}} if{{ifindex}} {{direction}} discards"),
            target('sum by (agent, ifindex, direction) (rate(weighbridge_sflow_interface_errors_total{%s}[%s]))' % (SEL, RI), "{{agent}} if{{ifindex}} {{direction}} errors")],
            unit="pps", w=12),
        panel("table", "Interfaces", [
            target('max by (agent, ifindex) (weighbridge_sflow_interface_speed_bps{%s})' % SEL, instant=True, ref="A"),
            target('max by (agent, ifindex) (weighbridge_sflow_interface_up{%s})' % SEL, instant=True, ref="B"),
            target('sum(weighbridge_sflow_interfaces_untracked_total{%s})' % SEL, instant=True, ref="C")],
            w=12, desc="Speed and operational status per agent interface; C: counter samples of interfaces beyond the 4096 tracked."),
        panel("timeseries", "IPFIX export", [
            target('sum by (collector) (rate(weighbridge_export_records_total{%s}[%s]))' % (SEL, RI), "{{collector}} records"),
            target('sum by (collector) (rate(weighbridge_export_messages_total{%s}[%s]))' % (SEL, RI), "{{collector}} messages"),
            target('sum by (collector) (rate(weighbridge_export_send_errors_total{%s}[%s]))' % (SEL, RI), "{{collector}} send errors")],
            unit="ops", w=24, h=6, desc="export.ipfix: weighbridge's flow records sent to a site's collector. Send errors lose the message's records."),
    ])

FILES = {
    "weighbridge-overview.json": OVERVIEW,
    "weighbridge-transfers.json": TRANSFERS,
    "weighbridge-sensor-health.json": HEALTH,
    "weighbridge-flow-inputs.json": FLOW_INPUTS,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, d in FILES.items():
        text = json.dumps(d, indent=2, sort_keys=True) + "\n"
        path = os.path.join(HERE, name)
        if check:
            try:
                with open(path, encoding="utf-8") as fh:
                    if fh.read() != text:
                        stale.append(name)
            except OSError:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
    if stale:
        print("stale (run dashboards/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
