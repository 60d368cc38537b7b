"""Each cluster's endpoints as Envoy's EDS from files, so that a process can leave its clusters and come back.

In a cluster, a pod that is terminating leaves its Service's endpoints first (its preStop sleep covers the
time this takes), and istiod pushes the new endpoints to every Envoy, which stops sending that pod new
requests while those in flight finish; only then does the process get SIGTERM. Locally, the mesh compiler
writes every cluster's endpoints into Envoy's configuration (`load_assignment`); this module moves them into
one file per cluster, which Envoy reads as its endpoint discovery (`path_config_source`) and reads again when
a new version of the file is moved into place. Draining a process is writing its clusters' files without it,
then waiting until Envoy's admin page no longer lists it: a state, as a test waits for it.
"""

import json
import re
import time
from pathlib import Path

import httpx

_ASSIGNMENT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
Address = tuple[str, int]


class Endpoints:
    """The endpoints of every static cluster of a compiled configuration, served to Envoy from `folder`."""

    def __init__(self, config: dict, folder: Path) -> None:
        """Rewrite `config` in place: its static clusters read their endpoints from files in `folder`."""
        self._folder = folder
        self._members: dict[str, list[Address]] = {}
        self._drained: set[Address] = set()
        self._version = 0
        folder.mkdir(parents=True, exist_ok=True)
        # Envoy names itself to a discovery service, even one of files.
        config.setdefault("node", {"id": "local-stack", "cluster": "sentiment-canary"})
        for cluster in config["static_resources"]["clusters"]:
            if cluster["type"] != "STATIC":
                continue
            name = cluster["name"]
            self._members[name] = [
                (lb["endpoint"]["address"]["socket_address"]["address"],
                 lb["endpoint"]["address"]["socket_address"]["port_value"])
                for group in cluster.pop("load_assignment")["endpoints"]
                for lb in group["lb_endpoints"]
            ]  # fmt: skip
            cluster["type"] = "EDS"
            cluster["eds_cluster_config"] = {
                "service_name": name,
                "eds_config": {"path_config_source": {"path": str(self._path(name))}, "resource_api_version": "V3"},
            }
        self._write()

    def drain(self, address: Address) -> None:
        """Take the process at `address` out of every cluster it serves."""
        self._drained.add(address)
        self._write()

    def restore(self, address: Address) -> None:
        self._drained.discard(address)
        self._write()

    def clusters_of(self, address: Address) -> list[str]:
        return [name for name, members in self._members.items() if address in members]

    def _path(self, cluster: str) -> Path:
        return self._folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", cluster) + ".json")

    def _write(self) -> None:
        """Every cluster's file, a new version each time, moved into place whole (Envoy watches for the move)."""
        self._version += 1
        for name, members in self._members.items():
            serving = [address for address in members if address not in self._drained]
            assignment = {
                "@type": _ASSIGNMENT,
                "cluster_name": name,
                "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                    for host, port in serving
                ]}],
            }  # fmt: skip
            path = self._path(name)
            staged = path.with_suffix(".json.new")
            staged.write_text(json.dumps({"version_info": str(self._version), "resources": [assignment]}))
            staged.replace(path)


def envoy_hosts(admin_url: str) -> dict[str, set[Address]]:
    """The hosts each cluster of the running Envoy balances over, from its admin page."""
    clusters = httpx.get(f"{admin_url}/clusters?format=json", timeout=2.0).json().get("cluster_statuses", [])
    return {
        cluster["name"]: {
            (host["address"]["socket_address"]["address"], host["address"]["socket_address"]["port_value"])
            for host in cluster.get("host_statuses", [])
        }
        for cluster in clusters
    }


def wait_for_hosts(admin_url: str, clusters: list[str], address: Address, present: bool, timeout: float) -> None:
    """Until Envoy lists `address` in every one of `clusters` (present) or in none of them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            hosts = envoy_hosts(admin_url)
        except (httpx.HTTPError, ValueError) as error:
            seen: object = error
        else:
            seen = {name: sorted(hosts.get(name, set())) for name in clusters}
            if all((address in hosts.get(name, set())) == present for name in clusters):
                return
        if time.monotonic() > deadline:
            state = "back in" if present else "out of"
            raise RuntimeError(f"Envoy did not take {address} {state} {clusters} in {timeout:g}s; it lists {seen}")
        time.sleep(0.05)
