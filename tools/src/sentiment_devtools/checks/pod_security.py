"""The Pod Security Standards' "restricted" profile, checked on every pod template, as each supported Kubernetes has it.

Implemented from the standard itself, https://kubernetes.io/docs/concepts/security/pod-security-standards/,
as the API server's Pod Security Admission enforces it, version by version, on
a namespace labelled `pod-security.kubernetes.io/enforce: restricted`: every
control of the baseline profile, with the restricted profile's stricter
versions of capabilities, seccomp and volumes. What changed between versions:
the safe sysctls grew (1.27, 1.29, 1.32, 1.37), probes and lifecycle hooks may
not name another host (1.34). Windows pods (`spec.os.name: windows`) are exempt
from the Linux-only controls: capabilities, seccomp and privilege escalation.
Each rule takes a pod and says what breaks it; a problem names the workload,
the control and the field. tests/k8s/test_pod_security_conformance.py holds it
to the Kubernetes project's own pass and fail fixtures of 1.33 and 1.37.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sentiment_devtools.checks.schemas import KUBERNETES_VERSION
from sentiment_devtools.manifests.model import Manifests

# The oldest and the newest Kubernetes the manifests support. The profile only grows stricter in its controls and
# wider in its safe sysctls, so a pod both of them admit is admitted by every release between.
KUBERNETES_VERSIONS = (KUBERNETES_VERSION, "1.37")

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
ALLOWED_VOLUME_SOURCES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# The sysctls each release added to the safe set: namespaced, and isolated from other pods on the node.
SAFE_SYSCTLS_SINCE = {
    (1, 0): {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_syncookies",
    },
    (1, 27): {"net.ipv4.ip_local_reserved_ports"},
    (1, 29): {
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    },
    (1, 32): {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"},
    (1, 37): {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"},
}
HOST_PROBES_SINCE = (1, 34)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Pod:
    """A pod's metadata and spec, as the admission of one Kubernetes release sees them."""

    metadata: Mapping
    spec: Mapping
    version: tuple[int, int]

    @property
    def windows(self) -> bool:
        return (self.spec.get("os") or {}).get("name") == "windows"


Rule = Callable[[Pod], Iterator[str]]


def release(version: str) -> tuple[int, int]:
    """ "1.33" or "v1.33" as (1, 33)."""
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def safe_sysctls(version: tuple[int, int]) -> frozenset[str]:
    return frozenset().union(*(names for since, names in SAFE_SYSCTLS_SINCE.items() if since <= version))


def containers(spec: Mapping) -> Iterator[Mapping]:
    for field in CONTAINER_LISTS:
        yield from spec.get(field, [])


def _context(container: Mapping) -> Mapping:
    return container.get("securityContext") or {}


def host_process(pod: Pod) -> Iterator[str]:
    """Windows HostProcess containers have full access to the node."""
    if (pod.spec.get("securityContext") or {}).get("windowsOptions", {}).get("hostProcess"):
        yield "the pod sets securityContext.windowsOptions.hostProcess"
    for container in containers(pod.spec):
        if _context(container).get("windowsOptions", {}).get("hostProcess"):
            yield f"container {container['name']} sets securityContext.windowsOptions.hostProcess"


def host_namespaces(pod: Pod) -> Iterator[str]:
    """Sharing the node's network, process or IPC namespace."""
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.spec.get(field):
            yield f"the pod sets {field}: true"


def privileged_containers(pod: Pod) -> Iterator[str]:
    for container in containers(pod.spec):
        if _context(container).get("privileged"):
            yield f"container {container['name']} sets securityContext.privileged: true"


def capabilities(pod: Pod) -> Iterator[str]:
    """Every container drops ALL, and adds back at most NET_BIND_SERVICE (Linux only)."""
    if pod.windows:
        return
    for container in containers(pod.spec):
        granted = _context(container).get("capabilities") or {}
        if "ALL" not in granted.get("drop", []):
            yield f"container {container['name']} must drop ALL capabilities (securityContext.capabilities.drop)"
        added = sorted(set(granted.get("add", [])) - ALLOWED_ADDED_CAPABILITIES)
        if added:
            yield f"container {container['name']} adds capabilities {', '.join(added)}: only NET_BIND_SERVICE may be"


def volume_types(pod: Pod) -> Iterator[str]:
    """Only volumes that cannot reach the node's files or the network's storage directly (hostPath included)."""
    for volume in pod.spec.get("volumes", []):
        sources = set(volume) - {"name"}
        if not sources <= ALLOWED_VOLUME_SOURCES:
            allowed = ", ".join(sorted(ALLOWED_VOLUME_SOURCES))
            yield f"volume {volume['name']} is of type {', '.join(sorted(sources))}, not one of {allowed}"


def host_ports(pod: Pod) -> Iterator[str]:
    for container in containers(pod.spec):
        for port in container.get("ports", []):
            if port.get("hostPort"):
                yield f"container {container['name']} binds hostPort {port['hostPort']}"


def host_probes(pod: Pod) -> Iterator[str]:
    """Probes and lifecycle hooks ask the pod itself, never another host (since 1.34)."""
    if pod.version < HOST_PROBES_SINCE:
        return
    for container in containers(pod.spec):
        handlers = {probe: container.get(probe) for probe in ("livenessProbe", "readinessProbe", "startupProbe")}
        handlers |= {
            f"lifecycle.{hook}": (container.get("lifecycle") or {}).get(hook) for hook in ("postStart", "preStop")
        }
        for where, handler in handlers.items():
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host")
                if host:
                    yield f"container {container['name']} {where}.{action} asks host {host}"


def apparmor(pod: Pod) -> Iterator[str]:
    contexts = [("the pod", pod.spec.get("securityContext") or {})]
    contexts += [(f"container {c['name']}", _context(c)) for c in containers(pod.spec)]
    for who, context in contexts:
        profile = (context.get("appArmorProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_APPARMOR_TYPES:
            yield f"{who} sets appArmorProfile.type {profile}"
    for key, value in (pod.metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            yield f"annotation {key} is {value}"


def selinux(pod: Pod) -> Iterator[str]:
    contexts = [("the pod", pod.spec.get("securityContext") or {})]
    contexts += [(f"container {c['name']}", _context(c)) for c in containers(pod.spec)]
    for who, context in contexts:
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
            yield f"{who} sets seLinuxOptions.type {options['type']}"
        for field in ("user", "role"):
            if options.get(field):
                yield f"{who} sets seLinuxOptions.{field}"


def proc_mount(pod: Pod) -> Iterator[str]:
    for container in containers(pod.spec):
        if _context(container).get("procMount", "Default") != "Default":
            yield f"container {container['name']} sets procMount {_context(container)['procMount']}"


def seccomp(pod: Pod) -> Iterator[str]:
    """RuntimeDefault or Localhost, set on the pod for every container, or on each container (Linux only)."""
    if pod.windows:
        return
    pod_profile = ((pod.spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_profile is not None and pod_profile not in ALLOWED_SECCOMP_TYPES:
        yield f"the pod sets seccompProfile.type {pod_profile}"
    for container in containers(pod.spec):
        profile = (_context(container).get("seccompProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_SECCOMP_TYPES:
            yield f"container {container['name']} sets seccompProfile.type {profile}"
        elif profile is None and pod_profile is None:
            yield f"container {container['name']} has no seccompProfile (RuntimeDefault), nor has the pod"


def sysctls(pod: Pod) -> Iterator[str]:
    for sysctl in (pod.spec.get("securityContext") or {}).get("sysctls", []):
        if sysctl["name"] not in safe_sysctls(pod.version):
            yield f"the pod sets sysctl {sysctl['name']}, which is not namespaced and safe"


def privilege_escalation(pod: Pod) -> Iterator[str]:
    """allowPrivilegeEscalation: false on every container (Linux only)."""
    if pod.windows:
        return
    for container in containers(pod.spec):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"container {container['name']} must set securityContext.allowPrivilegeEscalation: false"


def run_as_non_root(pod: Pod) -> Iterator[str]:
    """runAsNonRoot: true on the pod (and no container says false), or on every container."""
    on_pod = (pod.spec.get("securityContext") or {}).get("runAsNonRoot")
    if on_pod is False:
        yield "the pod sets securityContext.runAsNonRoot: false"
    for container in containers(pod.spec):
        own = _context(container).get("runAsNonRoot")
        if own is False or (own is None and on_pod is not True):
            yield f"container {container['name']} must run with securityContext.runAsNonRoot: true (or the pod)"


def run_as_non_root_user(pod: Pod) -> Iterator[str]:
    if (pod.spec.get("securityContext") or {}).get("runAsUser") == 0:
        yield "the pod sets runAsUser: 0"
    for container in containers(pod.spec):
        if _context(container).get("runAsUser") == 0:
            yield f"container {container['name']} sets runAsUser: 0"


# The controls in the standard's order: baseline, then restricted.
RULES: dict[str, Rule] = {
    "HostProcess": host_process,
    "Host Namespaces": host_namespaces,
    "Privileged Containers": privileged_containers,
    "Capabilities": capabilities,
    "Volume Types": volume_types,
    "Host Ports": host_ports,
    "Host Probes / Lifecycle Hooks": host_probes,
    "AppArmor": apparmor,
    "SELinux": selinux,
    "/proc Mount Type": proc_mount,
    "Seccomp": seccomp,
    "Sysctls": sysctls,
    "Privilege Escalation": privilege_escalation,
    "Running as Non-root": run_as_non_root,
    "Running as Non-root user": run_as_non_root_user,
}


def violations(metadata: Mapping, spec: Mapping, version: str = KUBERNETES_VERSION) -> list[tuple[str, str]]:
    """(control, what breaks it) for every control of the restricted profile of that release the pod breaks."""
    pod = Pod(metadata or {}, spec, release(version))
    return [(control, violation) for control, rule in RULES.items() for violation in rule(pod)]


def pods_meet_the_restricted_standard(m: Manifests, versions: tuple[str, ...] = KUBERNETES_VERSIONS) -> list[str]:
    """Every pod template satisfies every control of the restricted profile of every supported release; a
    problem only some releases have says which."""
    problems = []
    for workload in m.workloads():
        found: dict[tuple[str, str], list[str]] = {}
        for version in versions:
            for broken in violations(workload.pod.get("metadata") or {}, workload.pod["spec"], version):
                found.setdefault(broken, []).append(version)
        for (control, violation), where in found.items():
            releases = "" if len(where) == len(versions) else f" (Kubernetes {', '.join(where)})"
            problems.append(f"{workload.ref}: Pod Security Standard restricted, {control}: {violation}{releases}")
    return problems
