#!/usr/bin/env python3
"""Writes the five Grafana dashboards of the seed's Layer 7 (SSOT, Actions, Compliance,
Performance, Security) as dashboards/agentos-*.json. Every expression uses only metrics of
`agentos-metrics` (Sources/AgentOSMetrics/Catalog.swift); MetricsTests checks that.

Run `python3 dashboards/generate.py` after changing a panel and commit the JSON files."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}


def panel(kind, title, exprs, x, y, w=12, h=8, unit=None, legend=None, description=None, thresholds=None, mappings=None):
    targets = []
    for i, e in enumerate(exprs):
        expr, fmt = (e if isinstance(e, tuple) else (e, legend))
        t = {"datasource": DS, "expr": expr, "refId": chr(ord("A") + i)}
        if fmt:
            t["legendFormat"] = fmt
        targets.append(t)
    defaults = {}
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
    if mappings:
        defaults["mappings"] = mappings
    p = {
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }
    if description:
        p["description"] = description
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"}
    return p


def dashboard(uid, title, description, panels):
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["agentos"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1,
        }]},
        "annotations": {"list": []},
        "links": [{"title": "AgentOS", "type": "dashboards", "tags": ["agentos"], "asDropdown": True}],
        "panels": panels,
    }


GREEN_RED = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
RATE = "[5m]"

ssot = dashboard("agentos-ssot", "AgentOS / SSOT", "The SSOT snapshot cache in Redis DB1: hits, misses, rebuilds, age.", [
    panel("stat", "Cache hit rate (5m)", [
        f"sum(rate(agentos_ssot_cache_hits_total{RATE})) / (sum(rate(agentos_ssot_cache_hits_total{RATE})) + sum(rate(agentos_ssot_cache_misses_total{RATE})))"],
        0, 0, w=6, h=5, unit="percentunit"),
    panel("stat", "Generation", ["agentos_ssot_generation"], 6, 0, w=6, h=5),
    panel("stat", "Snapshot age", ["agentos_ssot_age_seconds"], 12, 0, w=6, h=5, unit="s"),
    panel("stat", "Cached", ["agentos_ssot_cached"], 18, 0, w=6, h=5, thresholds=GREEN_RED,
          mappings=[{"type": "value", "options": {"0": {"text": "no"}, "1": {"text": "yes"}}}]),
    panel("timeseries", "Lookups per second", [
        (f"sum(rate(agentos_ssot_cache_hits_total{RATE}))", "hits"),
        (f"sum(rate(agentos_ssot_cache_misses_total{RATE}))", "misses")], 0, 5, unit="reqps"),
    panel("timeseries", "Rebuilds per minute", [(f"delta(agentos_ssot_generation{RATE}) / 5", "rebuilds")], 12, 5),
    panel("timeseries", "Rebuild time", [("agentos_ssot_build_seconds", "build")], 0, 13, unit="s"),
    panel("timeseries", "Snapshot age", [("agentos_ssot_age_seconds", "age")], 12, 13, unit="s"),
])

actions = dashboard("agentos-actions", "AgentOS / Actions", "Admin actions of every console (audit_logs): rates, outcomes, latency.", [
    panel("stat", "Requests (5m)", [f"sum(increase(agentos_actions_total{RATE}))"], 0, 0, w=6, h=5),
    panel("stat", "Success rate (5m)", [
        f"sum(rate(agentos_actions_total{{outcome=~\"success|replayed\"}}{RATE})) / sum(rate(agentos_actions_total{RATE}))"],
        6, 0, w=6, h=5, unit="percentunit"),
    panel("stat", "p99 (5m)", [f"histogram_quantile(0.99, sum by (le) (rate(agentos_action_duration_seconds_bucket{RATE})))"],
          12, 0, w=6, h=5, unit="s"),
    panel("stat", "Denials (5m)", [f"sum(increase(agentos_action_denials_total{RATE}))"], 18, 0, w=6, h=5),
    panel("timeseries", "Requests by outcome", [(f"sum by (outcome) (rate(agentos_actions_total{RATE}))", "{{outcome}}")], 0, 5, unit="reqps"),
    panel("timeseries", "Latency p50 / p95 / p99", [
        (f"histogram_quantile(0.5, sum by (le) (rate(agentos_action_duration_seconds_bucket{RATE})))", "p50"),
        (f"histogram_quantile(0.95, sum by (le) (rate(agentos_action_duration_seconds_bucket{RATE})))", "p95"),
        (f"histogram_quantile(0.99, sum by (le) (rate(agentos_action_duration_seconds_bucket{RATE})))", "p99")], 12, 5, unit="s"),
    panel("bargauge", "Top actions (5m)", [(f"topk(10, sum by (action) (increase(agentos_actions_total{RATE})))", "{{action}}")], 0, 13),
    panel("timeseries", "Failures by action", [
        (f"sum by (action) (rate(agentos_actions_total{{outcome=~\"failure|unavailable|audit_unavailable\"}}{RATE}))", "{{action}}")], 12, 13, unit="reqps"),
    panel("timeseries", "p95 by action", [
        (f"histogram_quantile(0.95, sum by (le, action) (rate(agentos_action_duration_seconds_bucket{RATE})))", "{{action}}")], 0, 21, w=24, unit="s"),
])

compliance = dashboard("agentos-compliance", "AgentOS / Compliance", "The audit trail: rows, hash chain, critical actions, impersonation.", [
    panel("stat", "Hash chain", ["agentos_audit_chain_valid"], 0, 0, w=6, h=5, thresholds=GREEN_RED,
          mappings=[{"type": "value", "options": {"0": {"text": "BROKEN"}, "1": {"text": "intact"}}}],
          description="Every audit row read by the exporter re-hashed and linked (as agentos audit verify)."),
    panel("stat", "First broken row", ["agentos_audit_chain_broken_seq"], 6, 0, w=6, h=5),
    panel("stat", "Audit rows", ["agentos_audit_last_seq"], 12, 0, w=6, h=5),
    panel("stat", "Since the last audit row", ["time() - agentos_audit_last_timestamp_seconds"], 18, 0, w=6, h=5, unit="s"),
    panel("timeseries", "Audit rows by phase", [(f"sum by (phase) (rate(agentos_audit_rows_total{RATE}))", "{{phase}}")], 0, 5, unit="ops"),
    panel("timeseries", "Critical actions", [(f"sum by (action) (increase(agentos_audit_critical_actions_total{RATE}))", "{{action}}")], 12, 5),
    panel("timeseries", "Impersonation (--as)", [(f"increase(agentos_audit_impersonations_total{RATE})", "--as")], 0, 13),
    panel("timeseries", "Audit unavailable (nothing executed)", [
        (f"sum(increase(agentos_actions_total{{outcome=\"audit_unavailable\"}}{RATE}))", "audit unavailable")], 12, 13),
])

performance = dashboard("agentos-performance", "AgentOS / Performance", "Where action time goes, and the platform's load.", [
    panel("timeseries", "Pipeline stage p95", [
        (f"histogram_quantile(0.95, sum by (le, stage) (rate(agentos_action_stage_duration_seconds_bucket{RATE})))", "{{stage}}")], 0, 0, unit="s"),
    panel("timeseries", "Mean time per stage", [
        (f"sum by (stage) (rate(agentos_action_stage_duration_seconds_sum{RATE})) / sum by (stage) (rate(agentos_action_stage_duration_seconds_count{RATE}))", "{{stage}}")],
        12, 0, unit="s"),
    panel("timeseries", "Action p99", [
        (f"histogram_quantile(0.99, sum by (le) (rate(agentos_action_duration_seconds_bucket{RATE})))", "p99")], 0, 8, unit="s"),
    panel("timeseries", "SSOT rebuild time", [("agentos_ssot_build_seconds", "rebuild")], 12, 8, unit="s"),
    panel("timeseries", "Queue depth", [("agentos_queue_depth", "{{queue}}"), ("agentos_queue_paused == 1", "{{queue}} paused")], 0, 16),
    panel("timeseries", "Jobs by status", [("agentos_jobs", "{{status}}")], 12, 16),
    panel("timeseries", "Workers by status", [("agentos_workers", "{{status}}")], 0, 24),
    panel("timeseries", "Events published", [(f"rate(agentos_events_published_total{RATE})", "events/s")], 12, 24, unit="ops"),
    panel("timeseries", "Exporter", [("agentos_exporter_collect_seconds", "collect"),
                                     ("agentos_exporter_up", "{{store}} up")], 0, 32, w=24),
])

security = dashboard("agentos-security", "AgentOS / Security", "Refusals: RBAC, rate limits, breakers; who is connected.", [
    panel("stat", "Auth failures (1h)", ["sum(increase(agentos_auth_failures_total[1h]))"], 0, 0, w=6, h=5),
    panel("stat", "Rate-limited (1h)", ["sum(increase(agentos_action_denials_total{reason=\"rate_limited\"}[1h]))"], 6, 0, w=6, h=5),
    panel("stat", "Open breakers", ["sum(agentos_breaker_state{state!=\"closed\"})"], 12, 0, w=6, h=5,
          thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
    panel("stat", "Console sessions", ["agentos_console_sessions"], 18, 0, w=6, h=5),
    panel("timeseries", "Denials by reason", [(f"sum by (reason) (rate(agentos_action_denials_total{RATE}))", "{{reason}}")], 0, 5, unit="reqps"),
    panel("timeseries", "Auth failures by user", [(f"sum by (user) (increase(agentos_auth_failures_total{RATE}))", "{{user}}")], 12, 5),
    panel("timeseries", "Breaker state", [("agentos_breaker_state{state!=\"closed\"} == 1", "{{service}} {{state}}"),
                                          ("agentos_breaker_window_failures", "{{service}} failures")], 0, 13),
    panel("timeseries", "Active rate-limit windows", [("agentos_ratelimit_windows", "windows")], 12, 13),
    panel("timeseries", "Impersonation (--as)", [(f"increase(agentos_audit_impersonations_total{RATE})", "--as")], 0, 21, w=24),
])

for name, d in [("ssot", ssot), ("actions", actions), ("compliance", compliance), ("performance", performance), ("security", security)]:
    with open(os.path.join(HERE, f"agentos-{name}.json"), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
