"""The model-service's pods serve a pinned model, prepared by an init container from the same image and settings,
and download only from hosts a ServiceEntry declares."""

import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from sentiment_devtools.checks import contract
from sentiment_devtools.manifests.model import Manifests, Workload


def model_is_pinned(m: Manifests) -> list[str]:
    """Every model-service pins its model: a published release by its version and the sha256 of its artifact, or
    a version trained in place (MODEL_SOURCE=trained), which its own manifest pins, and MODEL_SHA256 if set."""
    problems = []
    for workload in m.app_workloads(("model-service",)):
        for container in workload.all_containers:
            where = f"{workload.ref}: {container['name']}"
            env = m.environment(workload, container)
            source = env.get("MODEL_SOURCE", contract.MODEL_SOURCE_DEFAULT)
            if source not in contract.MODEL_SOURCES:
                problems.append(f"{where}: MODEL_SOURCE={source!r} is none of {contract.MODEL_SOURCES}")
            if not re.fullmatch(r"v\d+\.\d+\.\d+", env.get("MODEL_VERSION", "")):
                problems.append(f"{where}: MODEL_VERSION={env.get('MODEL_VERSION')!r} pins no release (vX.Y.Z)")
            sha256 = env.get("MODEL_SHA256", "")
            if source != "trained" and not re.fullmatch(r"[0-9a-f]{64}", sha256):
                problems.append(
                    f"{where}: MODEL_SHA256={sha256!r} pins no sha256: copy the `sha256` of the published release's "
                    "own model.json (docs/model.md)"
                )
            if source == "trained" and sha256 and not re.fullmatch(r"[0-9a-f]{64}", sha256):
                problems.append(f"{where}: MODEL_SHA256={sha256!r} is no sha256 (leave it empty, or pin one)")
            if env.get("MODEL_ALLOW_UNPINNED", "false").lower() != "false":
                problems.append(f"{where}: MODEL_ALLOW_UNPINNED must stay false")
    return problems


NATIVE_SIDECAR_ANNOTATION = "sidecar.istio.io/nativeSidecar"


def model_is_prepared(m: Manifests) -> list[str]:
    """An init container of every model-service pod runs `model-service prepare` on the model its server serves:
    the same image, the same model settings, the same volume at the same folder; and Istio's proxy runs as a
    native sidecar, so that it already forwards the downloads of that init container."""
    problems = []
    for workload in m.app_workloads(("model-service",)):
        preparers = [c for c in workload.init_containers if _runs_prepare(c)]
        if not preparers:
            problems.append(
                f"{workload.ref}: no init container runs `model-service prepare`: with MODEL_SOURCE=trained the "
                "server never becomes ready (nothing trains its model), with release it downloads it itself"
            )
            continue
        if workload.pod_annotations.get(NATIVE_SIDECAR_ANNOTATION) != "true":
            problems.append(
                f'{workload.ref}: must annotate its pods {NATIVE_SIDECAR_ANNOTATION}: "true": otherwise Istio\'s '
                f"proxy starts after {preparers[0]['name']}, whose downloads then reach nothing"
            )
        for preparer in preparers:
            for server in workload.containers:
                problems += [
                    f"{workload.ref}: {preparer['name']} {problem}"
                    for problem in _prepare_problems(m, workload, preparer, server)
                ]
    return problems


def _runs_prepare(container: Mapping) -> bool:
    return tuple([*container.get("command", []), *container.get("args", [])][:2]) == contract.PREPARE_COMMAND


def _prepare_problems(m: Manifests, workload: Workload, preparer: Mapping, server: Mapping) -> list[str]:
    problems = []
    if preparer["image"] != server["image"]:
        problems.append(
            f"runs image {preparer['image']!r}, and {server['name']} {server['image']!r}: the model must be prepared "
            "by the code that serves it"
        )
    prepared, served = m.environment(workload, preparer), m.environment(workload, server)
    problems += [
        f"prepares {setting}={prepared.get(setting)!r}, and {server['name']} serves {setting}={served.get(setting)!r}"
        for setting in contract.MODEL_SETTINGS
        if prepared.get(setting) != served.get(setting)
    ]
    cache = served.get("MODEL_CACHE_DIR", contract.MODEL_CACHE_DIR_DEFAULT)
    written = {mount["mountPath"]: mount["name"] for mount in preparer.get("volumeMounts", [])}.get(cache)
    read = {mount["mountPath"]: mount["name"] for mount in server.get("volumeMounts", [])}.get(cache)
    if written != read:
        problems.append(
            f"writes the model to volume {written!r} at {cache}, and {server['name']} reads it from volume {read!r}"
        )
    return problems


def outbound_hosts_are_declared(m: Manifests) -> list[str]:
    """The hosts the model-service downloads from are ServiceEntry hosts, so REGISTRY_ONLY egress lets them through:
    the training data's (MODEL_SOURCE=trained, in prepare-model) or the release's (MODEL_SOURCE=release)."""
    problems = []
    declared = {host for entry in m.of_kind("ServiceEntry") for host in entry["spec"]["hosts"]}
    for workload in m.app_workloads(("model-service",)):
        for container in workload.all_containers:
            for what, url in _downloads(m.environment(workload, container), container):
                hosts = [url.hostname, *(contract.GITHUB_ASSET_HOSTS if url.hostname == "github.com" else ())]
                problems += [
                    f"{workload.ref}: {container['name']} downloads {what} from {host}, which no ServiceEntry declares"
                    for host in hosts
                    if host not in declared
                ]
    return problems


def _downloads(env: Mapping[str, str], container: Mapping) -> list[tuple[str, SplitResult]]:
    """What a model-service container downloads, and from where: (what, URL)."""
    if env.get("MODEL_SOURCE", contract.MODEL_SOURCE_DEFAULT) == "trained":
        if not _runs_prepare(container):
            return []  # the server only reads the trained model
        arguments = [*container.get("command", []), *container.get("args", [])]
        if "--demo" in arguments:
            return []
        data = arguments[arguments.index("--data") + 1] if "--data" in arguments else contract.TRAINING_DATA_URL_DEFAULT
        urls = [("the training data", urlsplit(data))]
    else:
        template = env.get("MODEL_URL_TEMPLATE", contract.MODEL_URL_TEMPLATE_DEFAULT)
        urls = [("the model", urlsplit(template))]
    return [(what, url) for what, url in urls if url.scheme in ("http", "https")]
