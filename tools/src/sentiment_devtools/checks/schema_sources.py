"""Where the CRD schemas of ../shared/schemas come from upstream, and the sha256 of each.

Each upstream file (a bundle of CustomResourceDefinitions) is named by its
repository, a fixed revision and its path; each schema extracted from it is
pinned by the sha256 of the file `fetch_schemas` writes for it, which is its
`openAPIV3Schema` as `json.dumps(schema, indent=1, sort_keys=True)`: the same
bytes as the file in ../shared/schemas, so `sha256sum` there checks a pin.
The pins are what is trusted: a bundle that changed upstream, or a revision
that is not the one meant, yields other schemas and fails the fetch.
"""

from dataclasses import dataclass, field

RAW_GITHUB = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Bundle:
    """One upstream file of CRDs and the schemas it must yield, "<group>/<kind lowercased>_<version>.json": sha256."""

    repo: str
    ref: str
    path: str
    schemas: dict[str, str] = field(hash=False)

    def url(self, base: str = RAW_GITHUB) -> str:
        return f"{base}/{self.repo}/{self.ref}/{self.path}"


@dataclass(frozen=True)
class SchemaSet:
    name: str
    description: str
    bundles: tuple[Bundle, ...]

    @property
    def schemas(self) -> dict[str, str]:
        return {name: digest for bundle in self.bundles for name, digest in bundle.schemas.items()}


def _versions(group: str, kind: str, versions: tuple[str, ...], digest: str) -> dict[str, str]:
    """Istio serves one schema under each of a kind's versions."""
    return {f"{group}/{kind}_{version}.json": digest for version in versions}


ISTIO_NETWORKING = ("v1", "v1alpha3", "v1beta1")
ISTIO_SECURITY = ("v1", "v1beta1")
ISTIO_TELEMETRY = ("v1", "v1alpha1")


def _istio(ref: str, digests: dict[str, str]) -> Bundle:
    """Istio's one bundle of every CRD, kubernetes/customresourcedefinitions.gen.yaml of istio/api."""
    networking, security, telemetry = "networking.istio.io", "security.istio.io", "telemetry.istio.io"
    schemas = {
        **_versions(networking, "destinationrule", ISTIO_NETWORKING, digests["destinationrule"]),
        **_versions(networking, "envoyfilter", ("v1alpha3",), digests["envoyfilter"]),
        **_versions(networking, "gateway", ISTIO_NETWORKING, digests["gateway"]),
        **_versions(networking, "proxyconfig", ("v1beta1",), digests["proxyconfig"]),
        **_versions(networking, "serviceentry", ISTIO_NETWORKING, digests["serviceentry"]),
        **_versions(networking, "sidecar", ISTIO_NETWORKING, digests["sidecar"]),
        **_versions(networking, "virtualservice", ISTIO_NETWORKING, digests["virtualservice"]),
        **_versions(networking, "workloadentry", ISTIO_NETWORKING, digests["workloadentry"]),
        **_versions(networking, "workloadgroup", ISTIO_NETWORKING, digests["workloadgroup"]),
        **_versions(security, "authorizationpolicy", ISTIO_SECURITY, digests["authorizationpolicy"]),
        **_versions(security, "peerauthentication", ISTIO_SECURITY, digests["peerauthentication"]),
        **_versions(security, "requestauthentication", ISTIO_SECURITY, digests["requestauthentication"]),
        **_versions(telemetry, "telemetry", ISTIO_TELEMETRY, digests["telemetry"]),
    }
    return Bundle("istio/api", ref, "kubernetes/customresourcedefinitions.gen.yaml", schemas)


def _prometheus_operator(plural: str, schema: str, digest: str) -> Bundle:
    path = f"example/prometheus-operator-crd/monitoring.coreos.com_{plural}.yaml"
    schemas = {f"monitoring.coreos.com/{schema}": digest}
    return Bundle("prometheus-operator/prometheus-operator", "v0.93.0", path, schemas)


def _cloudnative_pg(plural: str, schema: str, digest: str) -> Bundle:
    path = f"config/crd/bases/postgresql.cnpg.io_{plural}.yaml"
    return Bundle("cloudnative-pg/cloudnative-pg", "v1.30.0", path, {f"postgresql.cnpg.io/{schema}": digest})


# ../shared/schemas holds istio/api as of 2026-07-21 and prometheus-operator at
# v0.93.0 plus 24 commits; those exact revisions could not be resolved from a
# machine without GitHub, so the refs below name the nearest releases, and the
# pins decide: a ref that yields other schemas fails the fetch, naming each one.
CURRENT = SchemaSet(
    "current",
    "the newest Istio, prometheus-operator and CloudNativePG (../shared/schemas)",
    (
        _istio(
            "1.30.0",
            {
                "destinationrule": "e23b99e690e0c6bb210dafa18ed0ce9414c6dcf8f0609c4529de16a5f221d680",
                "envoyfilter": "ed7f27ea416d808c7cbeed51d27676953f2402472675eb902e116bf5ac63d0b3",
                "gateway": "7ad96406dfb77b7b17e1ecbcf5e473b60c3c6c0f778c4a1199a00022a31011c5",
                "proxyconfig": "d5bea74ef664ca69f4f5d4c5d7a4ab6450c68c617255c62f8263cbaa3b72a904",
                "serviceentry": "fdcfdca0c87c15ceb8322489c9d4351d3b0aad0e7ea7ea02a34a32ee23e07099",
                "sidecar": "15f04201cf4b01b7dba6f6c9e0b468b5bcd0c3b9d8fbcdb383487223cf605ead",
                "virtualservice": "47f9e2a1027f6155a8d0782d0378ee89e0bb6f18342db6441e7b12a5b835d142",
                "workloadentry": "cb591c3443c4c8f3456c157d0cd0575fd01202a3bd2dc6fe62f98cb8679dd406",
                "workloadgroup": "ad818b70ed1d9f2f15fe8aff7dbf94ee7c54810f0f514e600d87138470b294c7",
                "authorizationpolicy": "6841cac328f63b1ec4ec96efe58e80611dd1bc5e8b58be73f42bcfebc8807e1a",
                "peerauthentication": "03a5c28c188cec7d282fd529f648211364fc8aacb8594db15105120a93fa6632",
                "requestauthentication": "47837ba926fddea2c2ff3503e25753e900a88a79bcacfdd8343f35efc0bffe9f",
                "telemetry": "b9ff8017ee45d37f7258c634f9f1be7ac9604ffc2fcdcafe71184d28b624a853",
            },
        ),
        _prometheus_operator(
            "alertmanagerconfigs",
            "alertmanagerconfig_v1alpha1.json",
            "c18adee494964dbedbe57f7dd592752063b9f71b9b4c78431b281e2d7d92925f",
        ),
        _prometheus_operator(
            "podmonitors", "podmonitor_v1.json", "fafd3808a522bd14f2bbe0ec66688ac085f479bc8e9d84e284b1f67daa980644"
        ),
        _prometheus_operator(
            "probes", "probe_v1.json", "ba20e481ad4454c7c936248cf9543720b6d6e94a595df39f8ee23d96195c7d86"
        ),
        _prometheus_operator(
            "prometheusrules",
            "prometheusrule_v1.json",
            "d05e43cc1ec40f72a321a3307a00b00cd7ca7bb4fdc83a10ecae71e07cb4f935",
        ),
        _prometheus_operator(
            "servicemonitors",
            "servicemonitor_v1.json",
            "307578ddb48b5a03cd376acfb969b5089c69e0938cdacf61172552c457453d94",
        ),
        _cloudnative_pg(
            "clusters", "cluster_v1.json", "cff5fb084405c38c45fac558c13c8f3ed4813d4f5dac74d35236fef8605fbcc5"
        ),
        _cloudnative_pg(
            "databases", "database_v1.json", "4c0ba48554c753aba2a40b70d5582259a2ce3dae1a06bb053b2be5984368595f"
        ),
        _cloudnative_pg(
            "poolers", "pooler_v1.json", "90b34ca04f3a8559a7e51781b25c8acc5550586685d1f9c9f548bbbdd3a481fc"
        ),
        _cloudnative_pg(
            "scheduledbackups",
            "scheduledbackup_v1.json",
            "4df2e0b346d350b8a018a98c18be166976f63168e050042b28cd90da92a4cf5a",
        ),
    ),
)

ISTIO_1_26 = SchemaSet(
    "istio-1.26",
    "Istio 1.26.0, the oldest Istio the manifests support (../shared/schemas-istio-1.26)",
    (
        _istio(
            "1.26.0",
            {
                "destinationrule": "2641e01a28c2bd637f12b2202de27e65b06b028eab8aaac61e1e797b036dabaa",
                "envoyfilter": "520b43bfe8a20beeef15106835ac725337d2e7c8e1d3f3a16df96e35c1b7311b",
                "gateway": "272dc16157e2d00c4297d6998ddb833c198fbe3655194d0a5df7d8f4185ad7ff",
                "proxyconfig": "d5bea74ef664ca69f4f5d4c5d7a4ab6450c68c617255c62f8263cbaa3b72a904",
                "serviceentry": "f265765da70cf179ca961a8f8e387d37ea9f35862b09062fe9dfaf8651129f78",
                "sidecar": "6d49a8bb04a3dc0c0d971136ee127f1ba9770bbd32ff313dcd2ba2065efa902b",
                "virtualservice": "ac34497d96cc364b1d851229d15de4e5faf4e7546596db93fcb1adf41a4c8adb",
                "workloadentry": "cb591c3443c4c8f3456c157d0cd0575fd01202a3bd2dc6fe62f98cb8679dd406",
                "workloadgroup": "ad818b70ed1d9f2f15fe8aff7dbf94ee7c54810f0f514e600d87138470b294c7",
                "authorizationpolicy": "743b96a4a40eec2f8d71bb1c59a418094a5317514a0748f65e9fb02bc6cd6016",
                "peerauthentication": "03a5c28c188cec7d282fd529f648211364fc8aacb8594db15105120a93fa6632",
                "requestauthentication": "27879125a2904c3805d2fee36340cfc3fd308a66b799acfc09ee2e53b11517d2",
                "telemetry": "c94697a99655a3f73bcdf3afc64c38f5cff4249d723aa0605cf7ee0eddcd4194",
            },
        ),
    ),
)

SCHEMA_SETS = {schema_set.name: schema_set for schema_set in (CURRENT, ISTIO_1_26)}
