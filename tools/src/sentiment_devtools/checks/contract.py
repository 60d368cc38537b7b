"""What the services promise (docs/architecture.md, docs/model.md), which the
manifests must agree with. tests/k8s/test_contract.py holds these facts
against the services' own code."""

from collections.abc import Mapping

# The services, their arms and their port: sentiment_devtools.system.
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
# The only folder written outside the data volumes: an emptyDir, the root filesystem being read-only.
TMP_DIR = "/tmp"  # noqa: S108 (a path inside the container, not on this machine)

# The cookie the frontend VirtualService routes by: app-version=stable|canary.
VERSION_COOKIE = "app-version"
# The visitor's random id, a cookie of its own (never the one above): the experiment's unit of analysis.
VISITOR_COOKIE = "visitor-id"

MODEL_CACHE_DIR_DEFAULT = "/var/cache/model-service"
MODEL_URL_TEMPLATE_DEFAULT = "https://github.com/{repository}/releases/download/{version}/{asset}"
# Where github.com redirects release downloads to.
GITHUB_ASSET_HOSTS = ("release-assets.githubusercontent.com", "objects.githubusercontent.com")
# MODEL_SOURCE: a published release, downloaded and pinned by MODEL_SHA256; or one trained in place.
MODEL_SOURCES = ("release", "trained")
MODEL_SOURCE_DEFAULT = "release"
# The one-shot step that gets the model into the cache before the server starts (an init container).
PREPARE_COMMAND = ("model-service", "prepare")
# What `model-service prepare` trains on (MODEL_SOURCE=trained) unless its --data names a file or another URL.
TRAINING_DATA_URL_DEFAULT = (
    "https://raw.githubusercontent.com/proksch/restaurant-sentiment/main/a1_RestaurantReviews_HistoricDump.tsv"
)
# The model-service's settings that name its model: the server and its prepare step must agree on each.
MODEL_SETTINGS = (
    "MODEL_SOURCE",
    "MODEL_VERSION",
    "MODEL_SHA256",
    "MODEL_ALLOW_UNPINNED",
    "MODEL_REPOSITORY",
    "MODEL_URL_TEMPLATE",
    "MODEL_CACHE_DIR",
)

SQLITE_PREFIX = "sqlite:///"

# What a probe waits for an answer when it does not say (the kubelet's default timeoutSeconds).
PROBE_TIMEOUT_DEFAULT_SECONDS = 1
# The most each service's /readyz waits for what it asks before it answers: {service: (setting, its default)}.
# The app-service asks the model-service's readiness (and reports it, never fails on it).
READINESS_WAITS = {"app-service": ("MODEL_SERVICE_READINESS_TIMEOUT_SECONDS", 0.5)}


def data_folders(app: str, env: Mapping[str, str]) -> dict[str, str]:
    """The folders a service keeps data in, given its environment: {setting: folder}."""
    if app == "model-service":
        return {"MODEL_CACHE_DIR": env.get("MODEL_CACHE_DIR", MODEL_CACHE_DIR_DEFAULT)}
    database_url = env.get("DATABASE_URL", "")
    if app == "app-service" and database_url.startswith(SQLITE_PREFIX):
        database_file = database_url.removeprefix(SQLITE_PREFIX)
        return {"DATABASE_URL": database_file.rpartition("/")[0] or "."}
    return {}
