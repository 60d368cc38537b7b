"""Istio's routing agrees with itself: subsets, destinations and gateways exist, a split of new visitors adds up
and gives each arm its cookie, and the cookie routes match exactly their arm."""

import re
from collections.abc import Mapping

from sentiment_devtools.checks import contract
from sentiment_devtools.manifests.model import Manifests, namespace, ref


def destination_rule_subsets(m: Manifests) -> list[str]:
    """Each DestinationRule names a Service, and each subset selects some of its pods."""
    problems = []
    for rule in m.of_kind("DestinationRule"):
        service = m.service_for_host(rule["spec"]["host"], namespace(rule))
        if service is None:
            problems.append(f"{ref(rule)}: host {rule['spec']['host']} is no Service")
            continue
        for subset in rule["spec"].get("subsets", []):
            selector = service["spec"]["selector"] | subset.get("labels", {})
            if not m.pods_selected(selector, namespace(service)):
                problems.append(
                    f"{ref(rule)}: subset {subset['name']} selects pods labelled {selector}, "
                    "and no Deployment's pods are"
                )
        policy = rule["spec"].get("trafficPolicy", {})
        if "connectionPool" not in policy or "outlierDetection" not in policy:
            problems.append(f"{ref(rule)}: no circuit breaking (trafficPolicy connectionPool and outlierDetection)")
    return problems


def virtual_service_routes(m: Manifests) -> list[str]:
    """Gateways, hosts, destinations (host, port, subset) exist; a catch-all route comes last."""
    problems = []
    external_hosts = {host for entry in m.of_kind("ServiceEntry") for host in entry["spec"]["hosts"]}
    for virtual_service in m.of_kind("VirtualService"):
        spec, ns = virtual_service["spec"], namespace(virtual_service)
        for gateway_name in spec.get("gateways", ["mesh"]):
            if gateway_name == "mesh":
                continue
            gateway = m.get("Gateway", gateway_name.rpartition("/")[2], gateway_name.rpartition("/")[0] or ns)
            if gateway is None:
                problems.append(f"{ref(virtual_service)}: gateway {gateway_name} does not exist")
                continue
            served = {host for server in gateway["spec"]["servers"] for host in server["hosts"]}
            problems += [
                f"{ref(virtual_service)}: host {host} is not served by Gateway/{gateway_name}"
                for host in spec["hosts"]
                if host not in served
            ]
        routes = spec.get("http", [])
        for position, route in enumerate(routes):
            name = route.get("name", f"http[{position}]")
            if "match" not in route and position != len(routes) - 1:
                problems.append(
                    f"{ref(virtual_service)}: route {name} matches everything, so the routes after it never apply"
                )
            for destination in (d["destination"] for d in route.get("route", [])):
                problems += [
                    f"{ref(virtual_service)}: route {name}: {problem}"
                    for problem in _destination_problems(m, destination, ns, external_hosts)
                ]
    return problems


def _destination_problems(m: Manifests, destination: Mapping, ns: str, external_hosts: set[str]) -> list[str]:
    host = destination["host"]
    target = m.service_for_host(host, ns)
    if target is None:
        return [] if host in external_hosts else [f"destination host {host} is no Service nor ServiceEntry host"]
    problems = []
    ports = {port["port"] for port in target["spec"]["ports"]}
    port = destination.get("port", {}).get("number")
    if port is None and len(ports) > 1:
        problems.append(f"destination {host} names no port, and its Service has several {sorted(ports)}")
    elif port is not None and port not in ports:
        problems.append(f"destination {host} port {port} is not a port of its Service {sorted(ports)}")
    subset = destination.get("subset")
    if subset is not None:
        subsets = {
            s["name"]
            for rule in m.of_kind("DestinationRule")
            if m.service_for_host(rule["spec"]["host"], namespace(rule)) == target
            for s in rule["spec"].get("subsets", [])
        }
        if subset not in subsets:
            problems.append(f"destination {host} subset {subset} is in no DestinationRule (has {sorted(subsets)})")
    return problems


def weighted_splits(m: Manifests) -> list[str]:
    """A split between destinations gives them weights that add up to 100, and each sets the cookie of its subset.

    The weights themselves are the running experiment's, declared in the VirtualService and nowhere else."""
    problems = []
    for virtual_service in m.of_kind("VirtualService"):
        for route in virtual_service["spec"].get("http", []):
            destinations = route.get("route", [])
            if len(destinations) < 2:
                continue
            name = route.get("name", "a weighted route")
            weights = {d["destination"].get("subset"): d.get("weight", 0) for d in destinations}
            total = sum(weights.values())
            if total != 100:
                problems.append(f"{ref(virtual_service)}: route {name}: weights {weights} add up to {total}, not 100")
            for destination in destinations:
                subset = destination["destination"].get("subset")
                cookie = destination.get("headers", {}).get("response", {}).get("add", {}).get("set-cookie", "")
                if not cookie.startswith(f"{contract.VERSION_COOKIE}={subset};"):
                    problems.append(
                        f"{ref(virtual_service)}: route {name}: the {subset} destination must set the cookie "
                        f"{contract.VERSION_COOKIE}={subset}, and sets {cookie!r}"
                    )
    return problems


def cookie_matches_are_anchored(m: Manifests) -> list[str]:
    """A cookie route matches exactly its version's cookie, wherever it stands in the Cookie header."""
    problems = []
    for virtual_service in m.of_kind("VirtualService"):
        for route in virtual_service["spec"].get("http", []):
            subsets = {d["destination"].get("subset") for d in route.get("route", [])}
            for match in route.get("match", []):
                cookie_match = match.get("headers", {}).get("cookie")
                if cookie_match is None:
                    continue
                for subset in subsets:
                    problems += [
                        f"{ref(virtual_service)}: route {route.get('name')}: {problem}"
                        for problem in _cookie_match_problems(cookie_match, subset)
                    ]
    return problems


def _cookie_match_problems(cookie_match: Mapping, subset: str) -> list[str]:
    if "regex" not in cookie_match:
        return [f"the cookie match {cookie_match} must be a regex: the Cookie header holds every cookie"]
    # Envoy matches header regexes (RE2) against the whole value, as fullmatch does.
    regex = re.compile(cookie_match["regex"])
    cookie = f"{contract.VERSION_COOKIE}={subset}"
    must_match = [cookie, f"a=1; {cookie}; b=2", f"a=1; {cookie}", f"{cookie}; b=2"]
    must_not_match = [f"{cookie}X", f"x{cookie}", f"{contract.VERSION_COOKIE}=", f"a=1; x{cookie}; b=2"]
    problems = [
        f"cookie regex {regex.pattern!r} does not match {text!r}, the {subset} cookie"
        for text in must_match
        if not regex.fullmatch(text)
    ]
    problems += [
        f"cookie regex {regex.pattern!r} matches {text!r}, which is not the {subset} cookie (unanchored?)"
        for text in must_not_match
        if regex.fullmatch(text)
    ]
    return problems
