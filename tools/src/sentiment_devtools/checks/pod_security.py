"""The Pod Security Standards' "restricted" profile, checked on every pod template.

Implemented from the standard itself, https://kubernetes.io/docs/concepts/security/pod-security-standards/
(Kubernetes 1.33, with the 1.34 probe-host control), as the API server's Pod
Security Admission would enforce it on a namespace labelled
`pod-security.kubernetes.io/enforce: restricted`: every control of the baseline
profile, with the restricted profile's stricter versions of capabilities,
seccomp and volumes. Each rule takes a pod's metadata and spec and says what
breaks it; a problem names the workload, the control and the field.
"""

from collections.abc import Callable, Iterator, Mapping

from sentiment_devtools.manifests.model import Manifests

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
ALLOWED_VOLUME_SOURCES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

Rule = Callable[[Mapping, Mapping], Iterator[str]]


def containers(spec: Mapping) -> Iterator[Mapping]:
    for field in CONTAINER_LISTS:
        yield from spec.get(field, [])


def _context(container: Mapping) -> Mapping:
    return container.get("securityContext") or {}


def host_process(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """Windows HostProcess containers have full access to the node."""
    if (spec.get("securityContext") or {}).get("windowsOptions", {}).get("hostProcess"):
        yield "the pod sets securityContext.windowsOptions.hostProcess"
    for container in containers(spec):
        if _context(container).get("windowsOptions", {}).get("hostProcess"):
            yield f"container {container['name']} sets securityContext.windowsOptions.hostProcess"


def host_namespaces(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """Sharing the node's network, process or IPC namespace."""
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"the pod sets {field}: true"


def privileged_containers(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    for container in containers(spec):
        if _context(container).get("privileged"):
            yield f"container {container['name']} sets securityContext.privileged: true"


def capabilities(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """Every container drops ALL, and adds back at most NET_BIND_SERVICE."""
    for container in containers(spec):
        granted = _context(container).get("capabilities") or {}
        if "ALL" not in granted.get("drop", []):
            yield f"container {container['name']} must drop ALL capabilities (securityContext.capabilities.drop)"
        added = sorted(set(granted.get("add", [])) - ALLOWED_ADDED_CAPABILITIES)
        if added:
            yield f"container {container['name']} adds capabilities {', '.join(added)}: only NET_BIND_SERVICE may be"


def volume_types(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """Only volumes that cannot reach the node's files or the network's storage directly (hostPath included)."""
    for volume in spec.get("volumes", []):
        sources = set(volume) - {"name"}
        if not sources <= ALLOWED_VOLUME_SOURCES:
            allowed = ", ".join(sorted(ALLOWED_VOLUME_SOURCES))
            yield f"volume {volume['name']} is of type {', '.join(sorted(sources))}, not one of {allowed}"


def host_ports(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    for container in containers(spec):
        for port in container.get("ports", []):
            if port.get("hostPort"):
                yield f"container {container['name']} binds hostPort {port['hostPort']}"


def host_probes(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """Probes and lifecycle hooks ask the pod itself, never another host (1.34)."""
    for container in containers(spec):
        handlers = {probe: container.get(probe) for probe in ("livenessProbe", "readinessProbe", "startupProbe")}
        handlers |= {
            f"lifecycle.{hook}": (container.get("lifecycle") or {}).get(hook) for hook in ("postStart", "preStop")
        }
        for where, handler in handlers.items():
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host")
                if host:
                    yield f"container {container['name']} {where}.{action} asks host {host}"


def apparmor(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    contexts = [("the pod", spec.get("securityContext") or {})]
    contexts += [(f"container {c['name']}", _context(c)) for c in containers(spec)]
    for who, context in contexts:
        profile = (context.get("appArmorProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_APPARMOR_TYPES:
            yield f"{who} sets appArmorProfile.type {profile}"
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            yield f"annotation {key} is {value}"


def selinux(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    contexts = [("the pod", spec.get("securityContext") or {})]
    contexts += [(f"container {c['name']}", _context(c)) for c in containers(spec)]
    for who, context in contexts:
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
            yield f"{who} sets seLinuxOptions.type {options['type']}"
        for field in ("user", "role"):
            if options.get(field):
                yield f"{who} sets seLinuxOptions.{field}"


def proc_mount(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    for container in containers(spec):
        if _context(container).get("procMount", "Default") != "Default":
            yield f"container {container['name']} sets procMount {_context(container)['procMount']}"


def seccomp(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """RuntimeDefault or Localhost, set on the pod for every container, or on each container."""
    pod_profile = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_profile is not None and pod_profile not in ALLOWED_SECCOMP_TYPES:
        yield f"the pod sets seccompProfile.type {pod_profile}"
    for container in containers(spec):
        profile = (_context(container).get("seccompProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_SECCOMP_TYPES:
            yield f"container {container['name']} sets seccompProfile.type {profile}"
        elif profile is None and pod_profile is None:
            yield f"container {container['name']} has no seccompProfile (RuntimeDefault), nor has the pod"


def sysctls(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    for sysctl in (spec.get("securityContext") or {}).get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            yield f"the pod sets sysctl {sysctl['name']}, which is not namespaced and safe"


def privilege_escalation(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    for container in containers(spec):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield f"container {container['name']} must set securityContext.allowPrivilegeEscalation: false"


def run_as_non_root(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    """runAsNonRoot: true on the pod (and no container says false), or on every container."""
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    if pod is False:
        yield "the pod sets securityContext.runAsNonRoot: false"
    for container in containers(spec):
        own = _context(container).get("runAsNonRoot")
        if own is False or (own is None and pod is not True):
            yield f"container {container['name']} must run with securityContext.runAsNonRoot: true (or the pod)"


def run_as_non_root_user(metadata: Mapping, spec: Mapping) -> Iterator[str]:
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        yield "the pod sets runAsUser: 0"
    for container in containers(spec):
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


def pods_meet_the_restricted_standard(m: Manifests) -> list[str]:
    """Every pod template satisfies every control of the Pod Security Standards' restricted profile."""
    return [
        f"{workload.ref}: Pod Security Standard restricted, {control}: {violation}"
        for workload in m.workloads()
        for control, rule in RULES.items()
        for violation in rule(workload.pod.get("metadata") or {}, workload.pod["spec"])
    ]
