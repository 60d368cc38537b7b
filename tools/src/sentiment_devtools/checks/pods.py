"""Each service's pods as the service needs them: one Deployment in each arm, its data folders mounted, probes
and metrics annotations on the paths it serves, hardened beyond the Pod Security Standards, and images pinned."""

from collections import Counter

from sentiment_devtools.checks import contract
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.system import ARMS, CONTAINER_PORT, SERVICES


def data_folders_are_mounted(m: Manifests) -> list[str]:
    """Where a service keeps data is a mounted volume claim; /tmp is an emptyDir (the root filesystem is read-only).


    Init containers too: the model-service's prepare-model writes the model where the server reads it."""
    problems = []
    for workload in m.app_workloads(SERVICES):
        for container in workload.all_containers:
            mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
            wanted = contract.data_folders(workload.app, m.environment(workload, container))
            wanted_kinds = dict.fromkeys(wanted.values(), "persistentVolumeClaim") | {contract.TMP_DIR: "emptyDir"}
            for folder, volume_kind in wanted_kinds.items():
                mount = mounts.get(folder)
                volume = workload.volumes.get(mount["name"], {}) if mount else {}
                if mount is None or mount.get("readOnly") or volume_kind not in volume:
                    setting = next((s for s, f in wanted.items() if f == folder), "its temporary files")
                    problems.append(
                        f"{workload.ref}: {container['name']} writes to {folder} ({setting}), but no "
                        f"writable {volume_kind} is mounted there (mounts: {sorted(mounts)})"
                    )
    return problems


def probes_and_metrics_paths(m: Manifests) -> list[str]:
    """Probes and the metrics annotations point at the paths and port the services serve."""
    problems = []
    expected_annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(CONTAINER_PORT),
        "prometheus.io/path": contract.METRICS_PATH,
    }
    for workload in m.app_workloads(SERVICES):
        for key, value in expected_annotations.items():
            if workload.pod_annotations.get(key) != value:
                problems.append(
                    f"{workload.ref}: pod annotation {key} is {workload.pod_annotations.get(key)!r}, "
                    f"must be {value!r}: the Istio agent scrapes the app's metrics from it"
                )
        for container in workload.containers:
            ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
            if m.environment(workload, container).get("PORT") != str(CONTAINER_PORT):
                problems.append(f"{workload.ref}: {container['name']} must listen on PORT={CONTAINER_PORT}")
            for probe, path in (("livenessProbe", contract.LIVENESS_PATH), ("readinessProbe", contract.READINESS_PATH)):
                http_get = container.get(probe, {}).get("httpGet")
                if http_get is None:
                    problems.append(f"{workload.ref}: {container['name']} has no HTTP {probe} (on {path})")
                    continue
                if http_get.get("path") != path:
                    problems.append(
                        f"{workload.ref}: {container['name']} {probe} asks {http_get.get('path')}, but "
                        f"the service answers it on {path}"
                    )
                if ports.get(http_get["port"], http_get["port"]) != CONTAINER_PORT:
                    problems.append(
                        f"{workload.ref}: {container['name']} {probe} port {http_get['port']} is not "
                        f"the service's port {CONTAINER_PORT}"
                    )
    return problems


def readiness_probes_outlast_readyz(m: Manifests) -> list[str]:
    """A readiness probe waits longer than the service's /readyz may take (contract.READINESS_WAITS): otherwise a
    slow dependency, which /readyz reports but never fails on, times the probe out and takes the pod out of its
    Service, and the gateway answers `503 no healthy upstream`."""
    problems = []
    for workload in m.app_workloads(tuple(contract.READINESS_WAITS)):
        setting, default = contract.READINESS_WAITS[workload.app]
        for container in workload.containers:
            probe = container.get("readinessProbe")
            if probe is None:
                continue  # probes_and_metrics_paths says so
            waits = float(m.environment(workload, container).get(setting, default))
            timeout = probe.get("timeoutSeconds", contract.PROBE_TIMEOUT_DEFAULT_SECONDS)
            if waits >= timeout:
                said = "" if "timeoutSeconds" in probe else ", the kubelet's default"
                problems.append(
                    f"{workload.ref}: {container['name']} readinessProbe gives up after {timeout} s (timeoutSeconds"
                    f"{said}), and its /readyz waits up to {waits:g} s ({setting}): a slow dependency would make the "
                    "pod NotReady, and the gateway answer 503 no healthy upstream"
                )
    return problems


def every_service_runs_in_every_arm(m: Manifests) -> list[str]:
    """One Deployment per service and arm, its pods labelled app and version, and APP_VERSION (which labels their
    metrics) saying the same arm: the overlays of k8s/arms/ make them so, and this says when they do not."""
    problems = []
    for service in SERVICES:
        arms = Counter(workload.pod_labels.get("version") for workload in m.app_workloads((service,)))
        problems += [f"{service}: {arms[arm]} Deployments of the {arm} arm, not one" for arm in ARMS if arms[arm] != 1]
    for workload in m.app_workloads(SERVICES):
        version = workload.pod_labels.get("version")
        if version not in ARMS:
            problems.append(f"{workload.ref}: pod label version={version}, must be one of {ARMS}")
        for container in workload.containers:
            app_version = m.environment(workload, container).get("APP_VERSION")
            if app_version != version:
                problems.append(
                    f"{workload.ref}: {container['name']} has APP_VERSION={app_version}, but its pods are "
                    f"labelled version={version}: its metrics would count for the wrong arm"
                )
    return problems


def pods_are_hardened(m: Manifests) -> list[str]:
    """Beyond the Pod Security Standards (pod_security.py): a read-only root filesystem, requests and limits."""
    problems = []
    for workload in m.workloads():
        for container in workload.all_containers:
            where = f"{workload.ref}: {container['name']}"
            if container.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where} must set readOnlyRootFilesystem: true")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                missing = [r for r in ("cpu", "memory") if r not in resources.get(bound, {})]
                if missing:
                    problems.append(f"{where} has no {bound} for {', '.join(missing)}")
    return problems


def images_are_pinned(m: Manifests) -> list[str]:
    """Every image is a registry/name:tag set by `images:` in k8s/kustomization.yaml, never :latest."""
    problems = []
    for workload in m.workloads():
        for container in workload.all_containers:
            image = container["image"]
            if image == "auto" and workload.pod_annotations.get("inject.istio.io/templates") == "gateway":
                continue  # Istio's injector sets the gateway's proxy image
            name, _, tag = image.rpartition(":")
            if "/" not in name or not tag or tag == "latest":
                problems.append(
                    f"{workload.ref}: {container['name']} runs image {image!r}: give it a registry name "
                    "and a tag in the `images:` of k8s/kustomization.yaml"
                )
    return problems
