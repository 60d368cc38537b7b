"""The manifests as committed: they render, and every check passes on them."""

import json
import re
import shutil

import pytest
import yaml
from sentiment_devtools.checks.cli import main
from sentiment_devtools.checks.suite import all_problems
from sentiment_devtools.experiment.declaration import Declaration, running
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.manifests.render import RenderError, render
from sentiment_devtools.system import ARMS, SERVICES

FRONTEND_ROUTES = "components/istio/virtual-service-app-frontend-by-cookie.yaml"


def test_the_deployment_passes_every_check(rendered, validator):
    assert all_problems(rendered, validator) == []


def test_the_deployment_with_local_storage_passes_every_check(rendered_local_storage, validator):
    assert all_problems(rendered_local_storage, validator) == []


def test_with_local_images_every_version_runs_the_image_built_on_the_node_and_passes_every_check(
    rendered_local_images, validator
):
    images = {
        (d["metadata"]["name"], container["name"], container["image"], container.get("imagePullPolicy"))
        for d in Manifests(rendered_local_images).of_kind("Deployment")
        if d["metadata"]["labels"].get("app") in SERVICES
        for container in d["spec"]["template"]["spec"]["containers"]
    }

    assert images == {
        (f"{app}-{version}", app, f"sentiment-canary/{app}:local", None) for app in SERVICES for version in ARMS
    }
    assert all_problems(rendered_local_images, validator) == []


def test_each_service_has_its_resources_per_version(rendered):
    # A generated ConfigMap's name ends in a hash of its content.
    names = {(d["kind"], re.sub(r"-[a-z0-9]{10}$", "", d["metadata"]["name"])) for d in rendered}
    for app in SERVICES:
        for kind in ("Service", "ServiceAccount", "DestinationRule", "VirtualService"):
            assert (kind, app) in names
        for version in ARMS:
            assert ("Deployment", f"{app}-{version}") in names
            assert ("ConfigMap", f"{app}-{version}") in names


def test_everything_lands_in_one_namespace_with_sidecar_injection(rendered):
    namespaces = [document for document in rendered if document["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == ["sentiment"]
    assert namespaces[0]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {"sentiment"}


def test_the_canary_shows_confidence_and_the_stable_does_not(rendered):
    m = Manifests(rendered)
    for workload in m.app_workloads(("app-frontend", "app-service")):
        env = m.environment(workload, workload.containers[0])
        assert env["SHOW_CONFIDENCE"] == {"stable": "false", "canary": "true"}[workload.pod_labels["version"]]


def test_every_dashboard_file_is_shipped_in_a_config_map(k8s_dir, rendered):
    shipped = {
        key: json.loads(text)
        for document in rendered
        if document["kind"] == "ConfigMap" and document["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for key, text in document["data"].items()
    }
    folder = k8s_dir / "components/monitoring/dashboards"
    files = {path.name: json.loads(path.read_text()) for path in folder.glob("*.json")}
    assert files
    assert shipped == files


def test_the_secret_example_holds_only_placeholders(k8s_dir):
    example = (k8s_dir / "secrets/sentiment.env.example").read_text()
    values = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    assert set(values) == {"EXPORT_API_KEY", "SMTP_PASSWORD"}  # the database password is the operator's
    assert values["EXPORT_API_KEY"].startswith("change-me")
    assert values["SMTP_PASSWORD"].startswith("change-me")


def test_a_missing_secret_file_is_named_with_the_fix(k8s_dir, tmp_path):
    k8s = tmp_path / "k8s"
    shutil.copytree(k8s_dir, k8s, ignore=shutil.ignore_patterns("*.env"))
    with pytest.raises(RenderError, match=r"sentiment\.env is missing: copy sentiment\.env\.example to it"):
        render(k8s)


def test_the_command_line_checks_a_variant_and_says_so(k8s_dir, capsys):
    assert main([str(k8s_dir), "--example-secrets", "--with", "components/local-storage"]) == 0
    assert re.search(r"components/local-storage: \d+ documents, 0 problems", capsys.readouterr().out)


def test_the_command_line_fails_on_a_broken_source_file(k8s_dir, tmp_path, capsys):
    broken = tmp_path / "k8s"
    shutil.copytree(k8s_dir, broken)
    path = broken / FRONTEND_ROUTES
    virtual_service = yaml.safe_load(path.read_text())
    stable, canary = virtual_service["spec"]["http"][-1]["route"]
    stable["weight"], canary["weight"] = 80, 30
    path.write_text(yaml.safe_dump(virtual_service))

    assert main([str(broken), "--example-secrets"]) == 1
    assert "weights {'stable': 80, 'canary': 30} add up to 110, not 100" in capsys.readouterr().err


def test_a_new_split_is_the_weight_the_declaration_and_the_srm_share_changed_together_and_passes_every_check(
    k8s_dir, tmp_path, validator
):
    # Given a copy of k8s/ whose canary gets a quarter of new visitors: the VirtualService's weight, and the
    # experiment declared anew for that split (its plan recomputed, a new start) with the SRM rule's share
    ramped = tmp_path / "k8s"
    shutil.copytree(k8s_dir, ramped)
    path = ramped / FRONTEND_ROUTES
    virtual_service = yaml.safe_load(path.read_text())
    stable, canary = virtual_service["spec"]["http"][-1]["route"]
    stable["weight"], canary["weight"] = 75, 25
    path.write_text(yaml.safe_dump(virtual_service))
    declared_path = ramped / "experiments" / f"{running(k8s_dir).id}.yaml"
    declared = yaml.safe_load(declared_path.read_text()) | {"split": {"canary": 0.25}, "start": "2026-03-02T09:00:00Z"}
    declared["planned_reviews"] = Declaration.model_validate(declared | {"planned_reviews": 10**9}).required_reviews
    declared_path.write_text(yaml.safe_dump(declared))
    rules = ramped / "components/monitoring/prometheus-rule.yaml"
    rules.write_text(rules.read_text().replace("expr: vector(0.10)", "expr: vector(0.25)"))

    # When it is rendered
    documents = render(ramped, example_secrets=True)

    # Then that is the split, planned for fewer reviews than at 10%, and every check passes
    assert Manifests(documents).split("app-frontend") == {"stable": 75, "canary": 25}
    assert declared["planned_reviews"] < running(k8s_dir).planned_reviews
    assert all_problems(documents, validator) == []


def arm_neutral(document: dict, arm: str) -> dict:
    """A document of one arm with its arm taken out: its name's suffix, its version label, its ConfigMap's hash."""
    text = json.dumps(document)
    text = re.sub(rf'(app-frontend|app-service|model-service)(-data)?-{arm}(-[a-z0-9]{{10}})?"', r'\1\2"', text)
    neutral = json.loads(text.replace(f', "version": "{arm}"', "").replace(f'"version": "{arm}", ', ""))
    for labels in (neutral["metadata"].get("labels", {}), *_pod_and_selector_labels(neutral)):
        labels.pop("version", None)
    return neutral


def _pod_and_selector_labels(document: dict) -> list[dict]:
    if document["kind"] != "Deployment":
        return []
    return [document["spec"]["selector"]["matchLabels"], document["spec"]["template"]["metadata"]["labels"]]


def test_the_arms_differ_only_in_their_names_their_version_label_and_what_the_experiment_changes(rendered):
    by_arm = {
        arm: {
            (d["kind"], arm_neutral(d, arm)["metadata"]["name"]): arm_neutral(d, arm)
            for d in rendered
            if d["metadata"].get("labels", {}).get("version") == arm
        }
        for arm in ARMS
    }
    stable, canary = by_arm["stable"], by_arm["canary"]

    # One Deployment, one ConfigMap and one autoscaler per service in each arm, and the app-service's disruption budget
    expected = {
        (kind, service) for kind in ("Deployment", "ConfigMap", "HorizontalPodAutoscaler") for service in SERVICES
    }
    assert set(stable) == set(canary) == expected | {("PodDisruptionBudget", "app-service")}
    # The Deployments, the autoscalers (the canary's share of the traffic is a weight it may change, and its
    # promotion makes it the stable) and the budget are the same but for the arm
    for key in set(stable) - {("ConfigMap", service) for service in SERVICES}:
        assert stable[key] == canary[key], key
    # The settings differ in the experiment's feature flag only
    differences = {
        (service, setting)
        for service in SERVICES
        for setting in stable["ConfigMap", service]["data"].keys() | canary["ConfigMap", service]["data"].keys()
        if stable["ConfigMap", service]["data"].get(setting) != canary["ConfigMap", service]["data"].get(setting)
    }
    assert differences == {("app-frontend", "SHOW_CONFIDENCE"), ("app-service", "SHOW_CONFIDENCE")}
