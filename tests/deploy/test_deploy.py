"""The deploy files: Prometheus accepts the config and rules, manifests parse and carry what they must."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("promtool"):
        pytest.fail("promtool is not installed (make test installs Debian's prometheus package)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in docs(path):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_promtool_accepts_rules_and_config() -> None:
    rules = promtool("check", "rules", str(DEPLOY / "prometheus/alerts.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 5 rules found" in rules.stdout
    config = promtool("check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_alerts_cover_what_ops_asked_for() -> None:
    rules = {r["alert"]: r for g in docs(DEPLOY / "prometheus/alerts.yml")[0]["groups"] for r in g["rules"]}
    assert set(rules) == {"FramefleetQueueGrowingWithoutCompletions", "FramefleetNoSuccessIn30Minutes",
                          "FramefleetHighFailureRatio", "FramefleetRendersSlowerThanRealtime", "FramefleetWorkerDown"}
    assert "1800" in rules["FramefleetNoSuccessIn30Minutes"]["expr"]
    assert "0.10" in rules["FramefleetHighFailureRatio"]["expr"]
    assert "< 1" in rules["FramefleetRendersSlowerThanRealtime"]["expr"]


def test_worker_deployments() -> None:
    found = manifests()
    config = found[("ConfigMap", "framefleet")]["data"]
    limit = float(config["FRAMEFLEET_RENDER_TIME_LIMIT"])
    grace = float(config["FRAMEFLEET_SHUTDOWN_GRACE"])
    for name in ("framefleet-worker", "framefleet-worker-gpu"):
        spec = found[("Deployment", name)]["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] > max(limit, grace)
        container = spec["containers"][0]
        assert container["image"] and container["args"][0] == "worker"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"configMapRef": {"name": "framefleet"}} in container["envFrom"]
        assert container["resources"]["limits"] and container["resources"]["requests"]
    gpu = found[("Deployment", "framefleet-worker-gpu")]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["nodeSelector"] and "render_gpu" in gpu["containers"][0]["args"]


def test_metrics_service_and_monitor_agree() -> None:
    found = manifests()
    service = found[("Service", "framefleet-metrics")]["spec"]
    monitor = found[("ServiceMonitor", "framefleet")]["spec"]
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["ports"]}
    assert monitor["selector"]["matchLabels"].items() <= found[("Service", "framefleet-metrics")]["metadata"][
        "labels"].items()


def test_keda_never_scales_a_render_away() -> None:
    found = manifests()
    for name, queue in (("framefleet-worker", "render"), ("framefleet-worker-gpu", "render_gpu")):
        spec = found[("ScaledObject", name)]["spec"]
        assert spec["scaleTargetRef"]["name"] == name and spec["minReplicaCount"] >= 1
        assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"][
            "stabilizationWindowSeconds"] >= 600
        lists = {t["metadata"]["listName"] for t in spec["triggers"] if t["type"] == "redis"}
        assert lists == {f"dramatiq:{queue}", f"framefleet:backlog:{queue}"}  # released, and held in line
    pdb = found[("PodDisruptionBudget", "framefleet-worker")]["spec"]
    assert pdb["maxUnavailable"] == 1


def test_compose_runs_the_whole_fleet() -> None:
    compose = docs(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"redis", "minio", "worker-1", "worker-2", "prometheus", "grafana"} <= set(services)
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        assert worker["stop_grace_period"] == "11m"
        assert worker["environment"]["FRAMEFLEET_BROKER_URL"].startswith("redis://")
    prometheus = docs(DEPLOY / "prometheus/prometheus.yml")[0]
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["worker-1:9191", "worker-2:9191"]
    for dockerfile in ("Dockerfile", "Dockerfile.gpu"):
        text = (DEPLOY / dockerfile).read_text()
        assert "ffmpeg" in text and 'ENTRYPOINT ["framefleet"]' in text
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,video,utility" in (DEPLOY / "Dockerfile.gpu").read_text()


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers that are not functions, keywords or labels)."""
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"",
                                                                                 "", expr)))
    keywords = {"sum", "by", "and", "or", "unless", "rate", "le", "stage", "encoder", "status", "code", "outcome",
                "queue", "type", "without", "on", "ignoring", "time", "max", "increase", "delta",
                "histogram_quantile", "bool"}
    return {w for w in words if w not in keywords and not w.replace(".", "").isdigit()}


def dashboard_and_alert_metrics() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/framefleet.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in docs(DEPLOY / "prometheus/alerts.yml")[0]["groups"] for r in g["rules"]]
    return set().union(*(metric_names(e) for e in exprs))


def test_dashboard_has_the_panels_ops_asked_for() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/framefleet.json").read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"]).lower()
    for words in ("jobs per second", "queue depth", "p50", "p95", "speed", "failures by error code", "webhook",
                  "in progress"):
        assert words in titles, words
    assert dashboard_and_alert_metrics() >= {"framefleet_jobs_total", "framefleet_queue_depth", "up",
                                             "framefleet_stage_duration_seconds_bucket"}
