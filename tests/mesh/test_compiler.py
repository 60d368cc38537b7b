"""The Istio-to-Envoy compiler: what each supported field becomes, and what it refuses."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sentiment_devtools.mesh.envoy import compile_mesh
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.parse import parse_mesh
from sentiment_devtools.mesh.topology import Inbound, MeshTls, Sidecar, TlsFiles, Topology, Workload
from sentiment_devtools.system import ARMS

ENVOY = Path(sys.executable).parent / "envoy"


def service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]},
    }


def gateway(hosts: list[str]) -> dict:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {
            "selector": {"istio": "gw"},
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": hosts,
                    "tls": {"httpsRedirect": True},
                },
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": hosts,
                    "tls": {"mode": "SIMPLE", "credentialName": "cert"},
                },
            ],
        },
    }


def destination_rule(host: str) -> dict:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": host},
        "spec": {
            "host": host,
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 7, "connectTimeout": "1.5s"},
                    "http": {"http1MaxPendingRequests": 9},
                },
                "outlierDetection": {
                    "consecutive5xxErrors": 5,
                    "interval": "10s",
                    "baseEjectionTime": "1m30s",
                    "minHealthPercent": 50,
                },
            },
            "subsets": [
                {"name": "stable", "labels": {"version": "stable"}},
                {"name": "canary", "labels": {"version": "canary"}},
            ],
        },
    }


def virtual_service(host: str, http: list[dict], gateways: list[str] | None = None) -> dict:
    spec = {"hosts": [host], "http": http}
    if gateways is not None:
        spec["gateways"] = gateways
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": host}, "spec": spec}


def to(host: str, subset: str, **extra) -> dict:
    return {"destination": {"host": host, "subset": subset}, **extra}


def workloads() -> list[Workload]:
    return [
        Workload({"app": app, "version": version}, "127.0.0.1", port)
        for port, (app, version) in enumerate(
            [(app, version) for app in ("web", "api", "model") for version in ARMS], start=9001
        )
    ]


def topology(**overrides) -> Topology:
    values = {
        "workloads": workloads(),
        "ingress_port": 18080,
        "admin_port": 19901,
        "sidecars": [
            Sidecar({"app": "api", "version": "stable"}, "model", 18211),
            Sidecar({"app": "api", "version": "canary"}, "model", 18212),
        ],
    }
    return Topology(**(values | overrides))


def base_manifests(web_routes: list[dict] | None = None, model_routes: list[dict] | None = None) -> list[dict]:
    return [
        service("web"),
        service("api"),
        service("model"),
        gateway(["web.example", "api.example"]),
        destination_rule("web"),
        destination_rule("api"),
        destination_rule("model"),
        virtual_service("web.example", web_routes or [{"route": [to("web", "stable")]}], ["gw"]),
        virtual_service("api.example", [{"route": [to("api", "stable")]}], ["gw"]),
        virtual_service("model", model_routes or [{"route": [to("model", "stable")]}], ["mesh"]),
    ]


def compiled(manifests: list[dict], **topology_overrides) -> dict:
    return compile_mesh(parse_mesh(manifests), topology(**topology_overrides))


def listener(config: dict, name: str) -> dict:
    (found,) = [item for item in config["static_resources"]["listeners"] if item["name"] == name]
    return found["filter_chains"][0]["filters"][0]["typed_config"]


def virtual_host(config: dict, listener_name: str, host: str) -> dict:
    hosts = listener(config, listener_name)["route_config"]["virtual_hosts"]
    (found,) = [vh for vh in hosts if vh["domains"][0] == host]
    return found


def cluster(config: dict, name: str) -> dict:
    (found,) = [item for item in config["static_resources"]["clusters"] if item["name"] == name]
    return found


# --- matches -------------------------------------------------------------------


def test_clusters_are_named_as_istiod_names_them_with_the_services_fqdn():
    config = compiled(base_manifests(model_routes=[{"route": [to("model", "canary")]}]))

    names = {c["name"] for c in config["static_resources"]["clusters"]}
    assert names == {
        "outbound|80|stable|web.default.svc.cluster.local",
        "outbound|80|stable|api.default.svc.cluster.local",
        "outbound|80|canary|model.default.svc.cluster.local",
    }


@pytest.mark.parametrize(
    ("istio", "envoy"),
    [
        ({"uri": {"exact": "/api/v1/version"}}, {"path": "/api/v1/version"}),
        ({"uri": {"prefix": "/api/"}}, {"prefix": "/api/"}),
        ({"uri": {"regex": "/api/v[0-9]+/.*"}}, {"safe_regex": {"regex": "/api/v[0-9]+/.*"}}),
        (
            {"headers": {"x-app-version": {"exact": "canary"}}},
            {"prefix": "/", "headers": [{"name": "x-app-version", "string_match": {"exact": "canary"}}]},
        ),
        (
            {"headers": {"user-agent": {"prefix": "curl/"}}},
            {"prefix": "/", "headers": [{"name": "user-agent", "string_match": {"prefix": "curl/"}}]},
        ),
        (
            {"headers": {"cookie": {"regex": "(^|.*;\\s*)v=1(;.*)?$"}}},
            {
                "prefix": "/",
                "headers": [{"name": "cookie", "string_match": {"safe_regex": {"regex": "(^|.*;\\s*)v=1(;.*)?$"}}}],
            },
        ),
    ],
)
def test_every_supported_match_kind_keeps_its_meaning(istio, envoy):
    routes = [{"match": [istio], "route": [to("web", "canary")]}, {"route": [to("web", "stable")]}]

    config = compiled(base_manifests(web_routes=routes))

    first, default = virtual_host(config, "ingress_http", "web.example")["routes"]
    assert first["match"] == envoy
    assert first["route"]["cluster"] == "outbound|80|canary|web.default.svc.cluster.local"
    assert default["match"] == {"prefix": "/"}


def test_several_match_entries_become_one_route_each_in_order():
    routes = [
        {
            "name": "either",
            "match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}],
            "route": [to("web", "canary")],
        },
        {"route": [to("web", "stable")]},
    ]

    config = compiled(base_manifests(web_routes=routes))

    matches = [r["match"] for r in virtual_host(config, "ingress_http", "web.example")["routes"]]
    assert matches == [{"prefix": "/a"}, {"prefix": "/b"}, {"prefix": "/"}]


def test_weighted_destinations_keep_their_own_response_headers():
    def cookie(version):
        return {"response": {"add": {"set-cookie": f"v={version}"}}}

    routes = [
        {
            "route": [
                to("web", "stable", weight=75, headers=cookie("stable")),
                to("web", "canary", weight=25, headers=cookie("canary")),
            ]
        }
    ]

    config = compiled(base_manifests(web_routes=routes))

    (route,) = virtual_host(config, "ingress_http", "web.example")["routes"]
    weighted = route["route"]["weighted_clusters"]["clusters"]
    assert [(c["name"], c["weight"]) for c in weighted] == [
        ("outbound|80|stable|web.default.svc.cluster.local", 75),
        ("outbound|80|canary|web.default.svc.cluster.local", 25),
    ]
    assert weighted[1]["response_headers_to_add"] == [
        {"header": {"key": "set-cookie", "value": "v=canary"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
    ]


def test_route_header_operations_set_add_and_remove():
    headers = {"request": {"set": {"x-a": "1"}, "remove": ["x-b"]}, "response": {"add": {"x-c": "2"}}}
    routes = [{"route": [to("web", "stable")], "headers": headers}]

    config = compiled(base_manifests(web_routes=routes))

    (route,) = virtual_host(config, "ingress_http", "web.example")["routes"]
    assert route["request_headers_to_add"] == [
        {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    ]
    assert route["request_headers_to_remove"] == ["x-b"]
    assert route["response_headers_to_add"][0]["header"] == {"key": "x-c", "value": "2"}


# --- sourceLabels: the sidecar's view ------------------------------------------


def test_source_labels_are_evaluated_for_each_calling_workload():
    routes = [
        {"match": [{"sourceLabels": {"app": "api", "version": "canary"}}], "route": [to("model", "canary")]},
        {"route": [to("model", "stable")]},
    ]

    config = compiled(base_manifests(model_routes=routes))

    canary_routes = listener(config, "outbound_model_from_api_canary")["route_config"]["virtual_hosts"][0]["routes"]
    stable_routes = listener(config, "outbound_model_from_api_stable")["route_config"]["virtual_hosts"][0]["routes"]
    assert [r["route"]["cluster"] for r in canary_routes] == [
        "outbound|80|canary|model.default.svc.cluster.local",
        "outbound|80|stable|model.default.svc.cluster.local",
    ]
    assert canary_routes[0]["match"] == {"prefix": "/"}
    assert [r["route"]["cluster"] for r in stable_routes] == ["outbound|80|stable|model.default.svc.cluster.local"]


def test_a_mesh_host_without_virtual_service_balances_over_all_its_workloads():
    manifests = [
        m for m in base_manifests() if not (m["kind"] == "VirtualService" and m["metadata"]["name"] == "model")
    ]

    config = compiled(manifests)

    assert (
        cluster(config, "outbound|80||model.default.svc.cluster.local")["load_assignment"]["endpoints"][0][
            "lb_endpoints"
        ].__len__()
        == 2
    )


# --- gateway, TLS and the rate limit -------------------------------------------


def test_virtual_hosts_answer_the_cluster_host_and_its_localhost_twin_on_any_port():
    config = compiled(base_manifests())

    assert virtual_host(config, "ingress_http", "api.example")["domains"] == [
        "api.example",
        "api.example:*",
        "api.localhost",
        "api.localhost:*",
    ]


def test_with_a_certificate_https_serves_the_routes_and_http_redirects(tmp_path):
    tls = TlsFiles(tmp_path / "cert.pem", tmp_path / "key.pem")

    config = compiled(base_manifests(), tls=tls, tls_port=18443)

    https_hosts = listener(config, "ingress_https")["route_config"]["virtual_hosts"]
    assert {vh["name"] for vh in https_hosts} == {"web.example:443", "api.example:443"}
    # The HTTPS listener offers HTTP/2 first, as istiod's gateway does
    https = next(item for item in config["static_resources"]["listeners"] if item["name"] == "ingress_https")
    tls_context = https["filter_chains"][0]["transport_socket"]["typed_config"]["common_tls_context"]
    assert tls_context["alpn_protocols"] == ["h2", "http/1.1"]
    # As istiod does it: the plain server's virtual host requires TLS, with no routes of its own
    redirect = virtual_host(config, "ingress_http", "web.example")
    assert (redirect["name"], redirect["require_tls"], redirect["routes"]) == ("web.example:80", "ALL", [])


LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"


def rate_limit_filter(domain: str = "api.example", selector: str = "gw") -> dict:
    bucket = {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval": "1s"}
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "limit"},
        "spec": {
            "workloadSelector": {"labels": {"istio": selector}},
            "configPatches": [
                {
                    "applyTo": "HTTP_FILTER",
                    "match": {
                        "context": "GATEWAY",
                        "listener": {
                            "filterChain": {
                                "filter": {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "subFilter": {"name": "envoy.filters.http.router"},
                                }
                            }
                        },
                    },
                    "patch": {
                        "operation": "INSERT_BEFORE",
                        "value": {
                            "name": "envoy.filters.http.local_ratelimit",
                            "typed_config": {"@type": LOCAL_RATE_LIMIT_TYPE, "stat_prefix": "all"},
                        },
                    },
                },
                {
                    "applyTo": "VIRTUAL_HOST",
                    "match": {"context": "GATEWAY", "routeConfiguration": {"vhost": {"domainName": domain}}},
                    "patch": {
                        "operation": "MERGE",
                        "value": {
                            "typed_per_filter_config": {
                                "envoy.filters.http.local_ratelimit": {
                                    "@type": LOCAL_RATE_LIMIT_TYPE,
                                    "stat_prefix": "api",
                                    "token_bucket": bucket,
                                }
                            }
                        },
                    },
                },
            ],
        },
    }


def test_the_rate_limit_applies_to_the_named_virtual_host_only():
    config = compiled([*base_manifests(), rate_limit_filter()])

    assert "typed_per_filter_config" in virtual_host(config, "ingress_http", "api.example")
    assert "typed_per_filter_config" not in virtual_host(config, "ingress_http", "web.example")
    filters = [f["name"] for f in listener(config, "ingress_http")["http_filters"]]
    assert filters == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]


def vhost_match(envoy_filter: dict) -> dict:
    return envoy_filter["spec"]["configPatches"][1]["match"]["routeConfiguration"]["vhost"]


@pytest.mark.parametrize(
    "match",
    [
        {"domainName": "api.example:*"},
        {"name": "api.example:443"},
        {"domainName": "api.example", "name": "api.example:443"},
    ],
)
def test_a_virtual_host_patch_matches_any_of_its_domains_and_its_name_as_istiod_does(tmp_path, match):
    envoy_filter = rate_limit_filter()
    vhost_match(envoy_filter).clear()
    vhost_match(envoy_filter).update(match)

    config = compiled([*base_manifests(), envoy_filter], tls=TlsFiles(tmp_path / "c", tmp_path / "k"), tls_port=18443)

    patched = {
        vh["name"]
        for item in config["static_resources"]["listeners"]
        for vh in item["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
        if "typed_per_filter_config" in vh
    }
    # By domain: both of the host's virtual hosts, the HTTPS one and the plain one that requires TLS
    assert patched == ({"api.example:443"} if "name" in match else {"api.example:443", "api.example:80"})


@pytest.mark.parametrize(
    ("match", "unmatched"),
    [
        # The local twin is no domain of the cluster's virtual host: in Istio this patch would match nothing
        ({"domainName": "api.localhost"}, "['api.localhost']"),
        # Both given: both must match
        ({"domainName": "api.example", "name": "web.example:80"}, "['api.example', 'web.example:80']"),
    ],
)
def test_a_virtual_host_patch_that_would_match_nothing_in_istio_is_refused(match, unmatched):
    envoy_filter = rate_limit_filter()
    vhost_match(envoy_filter).clear()
    vhost_match(envoy_filter).update(match)

    with pytest.raises(CompileError, match=re.escape(f"no virtual host {unmatched} on the gateway")):
        compiled([*base_manifests(), envoy_filter])


def test_a_request_size_limit_is_inserted_on_the_gateway_before_the_router():
    size_limit = rate_limit_filter()
    size_limit["metadata"]["name"] = "size"
    size_limit["spec"]["configPatches"] = size_limit["spec"]["configPatches"][:1]
    size_limit["spec"]["configPatches"][0]["patch"]["value"] = {
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes": 1024,
        },
    }

    config = compiled([*base_manifests(), rate_limit_filter(), size_limit])

    filters = listener(config, "ingress_http")["http_filters"]
    assert [f["name"] for f in filters] == [
        "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.buffer",
        "envoy.filters.http.router",
    ]
    assert filters[1]["typed_config"]["max_request_bytes"] == 1024


def size_limit_filter(name: str = "size", priority: int | None = None) -> dict:
    size_limit = rate_limit_filter()
    size_limit["metadata"]["name"] = name
    size_limit["spec"]["configPatches"] = size_limit["spec"]["configPatches"][:1]
    size_limit["spec"]["configPatches"][0]["patch"]["value"] = {
        "name": "envoy.filters.http.buffer",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer"},
    }
    if priority is not None:
        size_limit["spec"]["priority"] = priority
    return size_limit


def inserted_filters(config: dict) -> list[str]:
    return [f["name"] for f in listener(config, "ingress_http")["http_filters"]][:-1]


def test_envoy_filters_apply_by_priority_first_as_istiod_orders_them():
    # Given the size limit first in the manifests, but with a higher priority than the rate limit's 0
    config = compiled([*base_manifests(), size_limit_filter(priority=10), rate_limit_filter()])

    # Then the rate limit's filter comes first, as istiod applies the lower priority first
    assert inserted_filters(config) == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.buffer"]


def test_at_one_priority_envoy_filters_apply_in_creation_order_which_locally_is_the_manifests():
    # "limit" then "size", in the manifests and by name alike: on any cluster, that order
    forward = compiled([*base_manifests(), rate_limit_filter(), size_limit_filter()])
    backward = compiled([*base_manifests(), size_limit_filter(name="a-size"), rate_limit_filter()])

    assert inserted_filters(forward) == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.buffer"]
    assert inserted_filters(backward) == ["envoy.filters.http.buffer", "envoy.filters.http.local_ratelimit"]


def test_envoy_filters_whose_order_on_a_cluster_would_depend_on_their_creation_times_are_refused():
    # "size" before "limit" in the manifests, "limit" before "size" by name, at one priority: created in one second,
    # istiod orders them by name; a second apart, by creation time
    with pytest.raises(CompileError, match=r"EnvoyFilter/limit: comes after EnvoyFilter/size .* give spec.priority"):
        compiled([*base_manifests(), size_limit_filter(), rate_limit_filter()])


def test_destination_rule_policies_become_circuit_breakers_and_outlier_detection():
    config = compiled(base_manifests())

    web = cluster(config, "outbound|80|stable|web.default.svc.cluster.local")
    assert web["connect_timeout"] == "1.5s"
    assert web["circuit_breakers"]["thresholds"][0] | {} == {
        "max_connections": 7,
        "max_pending_requests": 9,
        "max_requests": 4294967295,
        "max_retries": 4294967295,
    }
    assert web["outlier_detection"]["consecutive_5xx"] == 5
    assert web["outlier_detection"]["base_ejection_time"] == "90s"
    assert web["common_lb_config"] == {"healthy_panic_threshold": {"value": 50.0}}


# --- refusals ------------------------------------------------------------------


def test_retries_keep_their_conditions_and_go_to_another_host():
    retries = {"attempts": 2, "retryOn": "connect-failure, refused-stream,reset-before-request"}
    config = compiled(base_manifests(web_routes=[{"route": [to("web", "stable")], "retries": retries}]))

    (route,) = virtual_host(config, "ingress_http", "web.example")["routes"]
    policy = route["route"]["retry_policy"]
    assert policy["retry_on"] == "connect-failure,refused-stream,reset-before-request"
    assert policy["num_retries"] == 2
    assert [p["name"] for p in policy["retry_host_predicate"]] == ["envoy.retry_host_predicates.previous_hosts"]


def with_route_change(change) -> list[dict]:
    manifests = base_manifests()
    web = next(m for m in manifests if m["kind"] == "VirtualService" and m["metadata"]["name"] == "web.example")
    change(web["spec"]["http"][0])
    return manifests


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(mirror={"host": "web"}), "VirtualService/web.example: spec.http[0].mirror: not supported"),
        (lambda r: r.update(fault={"abort": {}}), "spec.http[0].fault: not supported"),
        (
            lambda r: r.update(match=[{"uri": {"exact": "/a", "prefix": "/"}}]),
            "spec.http[0].match[0].uri: needs exactly one",
        ),
        (lambda r: r.update(match=[{"uri": {"suffix": "/a"}}]), "spec.http[0].match[0].uri: needs exactly one"),
        (lambda r: r.update(match=[{"queryParams": {"a": {"exact": "1"}}}]), "match[0].queryParams: not supported"),
        (lambda r: r.update(match=[{"headers": {"X-App": {"exact": "1"}}}]), "must be lowercase"),
        (lambda r: r.update(match=[{"headers": {"cookie": {"regex": "(unclosed"}}}]), "not a valid regular expression"),
        (
            lambda r: r["route"][0]["destination"].update(subset="beta"),
            "subset beta of web is defined by no DestinationRule",
        ),
        (lambda r: r["route"][0]["destination"].update(host="ghost"), "destination host ghost is no Service"),
        (lambda r: r["route"][0]["destination"].update(port={"number": 8080}), "web has no port 8080"),
        (
            lambda r: r.update(route=[to("web", "stable", weight=90), to("web", "canary", weight=20)]),
            "sum to 100, found [90, 20]",
        ),
        (lambda r: r.update(timeout="soon"), "spec.http[0].timeout: 'soon' is not a duration"),
        (
            lambda r: r.update(retries={"attempts": 2, "retryOn": "connect-failure,503"}),
            "spec.http[0].retries.retryOn: 503: not supported by the local mesh compiler",
        ),
        (
            lambda r: r.update(retries={"attempts": 2, "retryOn": "retriable-status-codes,reset-before-requests"}),
            "retryOn: retriable-status-codes, reset-before-requests: not supported",
        ),
    ],
)
def test_unsupported_or_wrong_fields_are_refused_with_resource_and_field(change, message):
    with pytest.raises(CompileError) as raised:
        compiled(with_route_change(change))

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "s"}},
            "kind Sidecar is not supported",
        ),
        (rate_limit_filter(domain="nowhere.example"), "no virtual host ['nowhere.example'] on the gateway"),
        (rate_limit_filter(selector="other"), "selects {'istio': 'other'}, not the gateway"),
    ],
)
def test_unsupported_resources_are_refused(manifest, message):
    with pytest.raises(CompileError) as raised:
        compiled([*base_manifests(), manifest])

    assert message in str(raised.value)


def test_an_autoscaler_like_every_kind_outside_istio_changes_nothing():
    # The manifests' HorizontalPodAutoscalers scale pods in a cluster; locally each process is one workload
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web-stable"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-stable"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    assert compiled([*base_manifests(), autoscaler]) == compiled(base_manifests())


def test_a_subset_with_no_local_workload_is_refused():
    with pytest.raises(CompileError, match=r"no local workload has the labels \{'app': 'web', 'version': 'canary'\}"):
        compiled(
            base_manifests(web_routes=[{"route": [to("web", "canary")]}]),
            workloads=[w for w in workloads() if w.labels != {"app": "web", "version": "canary"}],
        )


def test_without_the_meshs_certificates_the_security_resources_change_nothing():
    # docker compose's topology has no certificates: its hops stay plain, as docs/local-mesh.md says
    assert compiled([*base_manifests(), peer_authentication(), model_callers_policy()]) == compiled(base_manifests())


# --- who the client is, and the per-client rate limit ------------------------------


def gateway_deployment(proxy_config: str | None, name: str = "gw", labels: dict | None = None) -> dict:
    annotations = {} if proxy_config is None else {"proxy.istio.io/config": proxy_config}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": labels or {"istio": "gw"}, "annotations": annotations},
                "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]},
            }
        },
    }


def per_client_limit() -> dict:
    """A virtual host's local rate limit with a bucket per client address and a global one."""
    return {
        "@type": LOCAL_RATE_LIMIT_TYPE,
        "stat_prefix": "api",
        "rate_limits": [{"actions": [{"remote_address": {}}]}],
        "descriptors": [
            {
                "entries": [{"key": "remote_address"}],
                "token_bucket": {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval": "1s"},
            }
        ],
        "max_dynamic_descriptors": 100,
        "token_bucket": {"max_tokens": 10, "tokens_per_fill": 5, "fill_interval": "1s"},
        "always_consume_default_token_bucket": True,
    }


def with_limit(limit: dict) -> dict:
    envoy_filter = rate_limit_filter()
    envoy_filter["spec"]["configPatches"][1]["patch"]["value"]["typed_per_filter_config"][LOCAL_RATE_LIMIT] = limit
    return envoy_filter


LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"


def test_only_the_gateways_listeners_take_the_tcp_peer_as_the_client_as_istiod_sets_them(tmp_path):
    config = secured(secured_manifests(peer_authentication(), model_callers_policy()), tmp_path, tls=None)

    managers = {
        item["name"]: item["filter_chains"][0]["filters"][0]["typed_config"]
        for item in config["static_resources"]["listeners"]
    }
    remote = {name: manager["use_remote_address"] for name, manager in managers.items()}
    assert remote == {
        "ingress_http": True,
        "outbound_model_from_api_stable": False,
        "outbound_model_from_api_canary": False,
        "inbound_model_stable": False,
        "inbound_model_canary": False,
    }
    assert managers["ingress_http"]["xff_num_trusted_hops"] == 0
    assert "xff_num_trusted_hops" not in managers["outbound_model_from_api_stable"]


def test_the_gateway_pods_trusted_proxies_become_the_listeners_trusted_hops(tmp_path):
    deployment = gateway_deployment("gatewayTopology:\n  numTrustedProxies: 2\n")

    config = compiled([*base_manifests(), deployment], tls=TlsFiles(tmp_path / "c", tmp_path / "k"), tls_port=18443)

    assert listener(config, "ingress_http")["xff_num_trusted_hops"] == 2
    assert listener(config, "ingress_https")["xff_num_trusted_hops"] == 2
    assert "xff_num_trusted_hops" not in listener(config, "outbound_model_from_api_stable")


@pytest.mark.parametrize("pods", [[], [gateway_deployment(None)], [gateway_deployment('{"gatewayTopology": {}}')]])
def test_a_gateway_whose_pods_name_no_trusted_proxy_trusts_none_as_istio_does(pods):
    config = compiled([*base_manifests(), *pods])

    assert listener(config, "ingress_http")["xff_num_trusted_hops"] == 0


def test_which_stats_the_gateway_keeps_changes_nothing_locally():
    stats = "gatewayTopology: {numTrustedProxies: 0}\nproxyStatsMatcher: {inclusionRegexps: ['.*']}\n"

    assert compiled([*base_manifests(), gateway_deployment(stats)]) == compiled(base_manifests())


def test_the_proxy_config_of_pods_that_are_not_the_gateway_is_not_read():
    sidecar = gateway_deployment("holdApplicationUntilProxyStarts: true", name="api", labels={"app": "api"})

    assert compiled([*base_manifests(), sidecar]) == compiled(base_manifests())


@pytest.mark.parametrize(
    ("manifests", "message"),
    [
        (
            [gateway_deployment("gatewayTopology:\n  numTrustedProxies: 1\n  proxyProtocol: {}\n")],
            "Deployment/gw: spec.template.metadata.annotations[proxy.istio.io/config].gatewayTopology.proxyProtocol: "
            "not supported",
        ),
        (
            [gateway_deployment("holdApplicationUntilProxyStarts: true")],
            "proxy.istio.io/config].holdApplicationUntilProxyStarts: not supported",
        ),
        ([gateway_deployment("gatewayTopology: {numTrustedProxies: -1}")], "numTrustedProxies: must be 0 or more"),
        ([gateway_deployment("gatewayTopology: [")], "proxy.istio.io/config]: not YAML"),
        (
            [
                gateway_deployment("gatewayTopology: {numTrustedProxies: 1}"),
                gateway_deployment("gatewayTopology: {numTrustedProxies: 0}", name="gw2"),
            ],
            "Gateway/gw: its pods disagree on numTrustedProxies: {'Deployment/gw': 1, 'Deployment/gw2': 0}",
        ),
    ],
)
def test_a_gateway_proxy_config_the_compiler_cannot_honour_is_refused(manifests, message):
    with pytest.raises(CompileError) as raised:
        compiled([*base_manifests(), *manifests])

    assert message in str(raised.value)


def test_a_per_client_rate_limit_goes_on_its_virtual_host_as_written():
    config = compiled([*base_manifests(), with_limit(per_client_limit())])

    assert virtual_host(config, "ingress_http", "api.example")["typed_per_filter_config"] == {
        LOCAL_RATE_LIMIT: per_client_limit()
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda limit: limit.update(local_cluster_rate_limit={}),
            "typed_per_filter_config.envoy.filters.http.local_ratelimit.local_cluster_rate_limit: shares the buckets "
            "among the gateway's replicas",
        ),
        (lambda limit: limit.update(vh_rate_limits="INCLUDE"), "vh_rate_limits: chooses between route and"),
        (lambda limit: limit.update(stage=1), "local_ratelimit.stage: not supported by the local mesh compiler"),
        (
            lambda limit: limit.update({"@type": "type.googleapis.com/udpa.type.v1.TypedStruct"}),
            "local_ratelimit.@type: must be type.googleapis.com/envoy.extensions.filters.http.local_ratelimit",
        ),
        (
            lambda limit: limit["rate_limits"][0]["actions"].append({"source_cluster": {}}),
            "rate_limits[0].actions[1].source_cluster: the gateway's service cluster is named by Istio",
        ),
        (
            lambda limit: limit["rate_limits"][0]["actions"].append(
                {"metadata": {"descriptor_key": "k", "metadata_key": {"key": "istio", "path": [{"key": "x"}]}}}
            ),
            "actions[1].metadata: reads dynamic or route metadata that Istio's filters write",
        ),
        (
            lambda limit: limit["rate_limits"][0].update(stage=2),
            "rate_limits[0].stage: not supported by the local mesh compiler",
        ),
        (
            lambda limit: limit["rate_limits"][0]["actions"][0].update(generic_key={"descriptor_value": "x"}),
            "actions[0]: an action is exactly one of remote_address",
        ),
    ],
)
def test_a_rate_limit_setting_that_would_not_mean_here_what_it_means_in_istio_is_refused(change, message):
    limit = per_client_limit()
    change(limit)

    with pytest.raises(CompileError) as raised:
        compiled([*base_manifests(), with_limit(limit)])

    assert "EnvoyFilter/limit: spec.configPatches[1].patch.value.typed_per_filter_config" in str(raised.value)
    assert message in str(raised.value)


# --- Envoy accepts what we write --------------------------------------------------


def validate_with_envoy(config: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(config)))
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_envoy_validates_the_compiled_configuration_with_tls(tmp_path, self_signed_certificate):
    manifests = [
        *base_manifests(),
        with_limit(per_client_limit()),
        gateway_deployment("gatewayTopology: {numTrustedProxies: 1}"),
    ]
    config = compiled(manifests, tls=self_signed_certificate, tls_port=18443)

    result = validate_with_envoy(config, tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]


def test_a_cors_policy_allows_the_origin_and_its_local_twin_and_runs_before_the_rate_limit():
    cors = {
        "allowOrigins": [{"exact": "https://web.example"}],
        "allowMethods": ["GET", "POST"],
        "allowHeaders": ["x-app-version"],
        "maxAge": "10m",
    }
    manifests = base_manifests()
    api = next(m for m in manifests if m["metadata"]["name"] == "api.example")
    api["spec"]["http"][0]["corsPolicy"] = cors

    config = compiled([*manifests, rate_limit_filter()])

    (route,) = virtual_host(config, "ingress_http", "api.example")["routes"]
    policy = route["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert policy["allow_origin_string_match"] == [
        {"exact": "https://web.example"},
        {"exact": "http://web.localhost:18080"},
    ]
    assert (policy["allow_methods"], policy["allow_headers"], policy["max_age"]) == ("GET,POST", "x-app-version", "600")
    filters = [f["name"] for f in listener(config, "ingress_http")["http_filters"]]
    assert filters == ["envoy.filters.http.cors", "envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]


# --- mutual TLS and the AuthorizationPolicy --------------------------------------------------------


def peer_authentication(mode: str = "STRICT", **spec) -> dict:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "shop"},
        "spec": {"mtls": {"mode": mode}, **spec},
    }


def model_callers_policy(**spec) -> dict:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "model-callers", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "model"}},
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/api"]}}]}],
            **spec,
        },
    }


def deployment(app: str, version: str, account: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{app}-{version}", "namespace": "shop"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": app, "version": version}},
                "spec": {"serviceAccountName": account, "containers": [{"name": app, "image": "x"}]},
            }
        },
    }


def secured_manifests(*security: dict) -> list[dict]:
    pods = [deployment(app, version, app) for app in ("web", "api", "model") for version in ARMS]
    manifests = [*base_manifests(), *pods, gateway_deployment(None, labels={"istio": "gw"}), *security]
    for document in manifests:
        document["metadata"]["namespace"] = "shop"
    return manifests


def mesh_tls(tmp_path: Path) -> MeshTls:
    accounts = ("web", "api", "model", "default")
    files = {a: TlsFiles(tmp_path / f"{a}.crt", tmp_path / f"{a}.key") for a in accounts}
    return MeshTls(ca_certificate=tmp_path / "ca.crt", identities=files)


def secured(manifests: list[dict], tmp_path: Path, **overrides) -> dict:
    inbound = [Inbound({"app": "model", "version": version}, 18111 + index) for index, version in enumerate(ARMS)]
    return compiled(manifests, **({"inbound": inbound, "mesh_tls": mesh_tls(tmp_path)} | overrides))


def inbound_listener(config: dict, name: str) -> dict:
    (found,) = [item for item in config["static_resources"]["listeners"] if item["name"] == name]
    return found


def test_strict_mtls_and_an_allow_policy_become_the_workloads_inbound_listener_with_rbac(tmp_path):
    config = secured(secured_manifests(peer_authentication(), model_callers_policy()), tmp_path)

    listener_config = inbound_listener(config, "inbound_model_stable")
    tls = listener_config["filter_chains"][0]["transport_socket"]["typed_config"]
    # STRICT: a client certificate of the mesh's CA is required, and the sidecar presents the workload's own
    assert tls["require_client_certificate"] is True
    assert tls["common_tls_context"]["validation_context"] == {"trusted_ca": {"filename": str(tmp_path / "ca.crt")}}
    assert tls["common_tls_context"]["tls_certificates"][0]["certificate_chain"]["filename"] == str(
        tmp_path / "model.crt"
    )
    manager = listener_config["filter_chains"][0]["filters"][0]["typed_config"]
    (rbac, router) = manager["http_filters"]
    assert router["name"] == "envoy.filters.http.router"
    # The policy as Istio names and writes it: one per rule, the principals as SPIFFE URIs
    assert rbac["typed_config"]["rules"] == {
        "action": "ALLOW",
        "policies": {
            "ns[shop]-policy[model-callers]-rule[0]": {
                "permissions": [{"any": True}],
                "principals": [
                    {
                        "or_ids": {
                            "ids": [
                                {
                                    "authenticated": {
                                        "principal_name": {"exact": "spiffe://cluster.local/ns/shop/sa/api"}
                                    }
                                }
                            ]
                        }
                    }
                ],
            }
        },
    }
    # Behind it, the workload's own port, by istiod's default inbound route: retried only if reset before the request
    route = manager["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
    assert route["retry_policy"] == {"retry_on": "reset-before-request", "num_retries": 2}
    assert cluster(config, route["cluster"])["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"] == {
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 9005}}
    }


def test_a_caller_reaches_a_secured_workload_through_its_inbound_listener_with_its_own_identity(tmp_path):
    config = secured(secured_manifests(peer_authentication(), model_callers_policy()), tmp_path)

    model = cluster(config, "outbound|80|stable|model.shop.svc.cluster.local")
    assert model["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"] == {
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 18111}}
    }
    upstream = model["transport_socket"]["typed_config"]
    assert upstream["sni"] == "outbound_.80_.stable_.model.shop.svc.cluster.local"
    context = upstream["common_tls_context"]
    assert context["tls_certificates"][0]["certificate_chain"]["filename"] == str(tmp_path / "api.crt")
    # Only the server's own identity is accepted: a listener with another certificate of the CA is not the model
    assert context["validation_context"]["match_typed_subject_alt_names"] == [
        {"san_type": "URI", "matcher": {"exact": "spiffe://cluster.local/ns/shop/sa/model"}}
    ]
    # The gateway's hop to the web stays plain: the web has no inbound listener here
    assert "transport_socket" not in cluster(config, "outbound|80|stable|web.shop.svc.cluster.local")


def test_an_allow_policy_without_rules_allows_nobody(tmp_path):
    config = secured(secured_manifests(peer_authentication(), model_callers_policy(rules=[])), tmp_path)

    manager = inbound_listener(config, "inbound_model_canary")["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["http_filters"][0]["typed_config"]["rules"] == {"action": "ALLOW", "policies": {}}


def test_envoy_validates_the_secured_configuration(tmp_path):
    from sentiment_devtools.mesh.mesh_ca import mesh_certificates

    _, tls = mesh_certificates(tmp_path / "ca", [("shop", a) for a in ("web", "api", "model", "default")])
    config = secured(secured_manifests(peer_authentication(), model_callers_policy()), tmp_path, mesh_tls=tls)

    result = validate_with_envoy(config, tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("security", "message"),
    [
        ((peer_authentication("PERMISSIVE"), model_callers_policy()), "mtls.mode: PERMISSIVE is not supported"),
        (
            (peer_authentication(portLevelMtls={"8000": {"mode": "DISABLE"}}), model_callers_policy()),
            "spec.portLevelMtls: not supported",
        ),
        ((model_callers_policy(),), "no PeerAuthentication makes {'app': 'model', 'version': 'stable'} STRICT"),
        ((peer_authentication(), model_callers_policy(action="DENY")), "spec.action: DENY is not supported"),
        (
            (peer_authentication(), model_callers_policy(rules=[{"from": [{"source": {"principals": ["*"]}}]}])),
            "wildcard principals are not supported",
        ),
        (
            (
                peer_authentication(),
                model_callers_policy(rules=[{"from": [{"source": {"namespaces": ["shop"]}}]}]),
            ),
            "spec.rules[0].from[0].source.principals: required",
        ),
        (
            (peer_authentication(), model_callers_policy(rules=[{"to": [{"operation": {"methods": ["GET"]}}]}])),
            "spec.rules[0].from: required",
        ),
        (
            (
                peer_authentication(),
                model_callers_policy(
                    rules=[{"from": [{"source": {"principals": ["a/b"]}}], "when": [{"key": "k", "values": ["v"]}]}]
                ),
            ),
            "spec.rules[0].when: not supported",
        ),
        (
            (peer_authentication(), model_callers_policy(selector={"matchLabels": {"app": "web"}})),
            "selects the workload {'app': 'web', 'version': 'stable'}, which has no inbound listener",
        ),
    ],
)
def test_security_the_compiler_does_not_run_is_refused_with_resource_and_field(tmp_path, security, message):
    with pytest.raises(CompileError) as raised:
        secured(secured_manifests(*security), tmp_path)

    assert message in str(raised.value)


def test_inbound_listeners_without_the_meshs_certificates_are_refused(tmp_path):
    with pytest.raises(CompileError, match="inbound listeners need the mesh's certificates"):
        secured(secured_manifests(peer_authentication(), model_callers_policy()), tmp_path, mesh_tls=None)


def test_callers_of_one_secured_cluster_with_different_identities_are_refused(tmp_path):
    # One local Envoy holds every sidecar: a cluster has one client certificate, so one caller identity
    manifests = secured_manifests(peer_authentication(), model_callers_policy())
    for document in manifests:
        if document["kind"] == "Deployment" and document["metadata"]["name"] == "api-canary":
            document["spec"]["template"]["spec"]["serviceAccountName"] = "web"

    with pytest.raises(
        CompileError, match=r"outbound\|80\|stable\|model\.shop\.svc\.cluster\.local is called as api and as web"
    ):
        secured(manifests, tmp_path)
