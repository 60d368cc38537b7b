"""The manifests rendered once per session, as CI renders them: with the
committed secrets/*.env.example files in place of the git-ignored env files."""

import copy
import os
from pathlib import Path

import pytest
from sentiment_devtools.checks.schemas import OLDEST_ISTIO, SchemaValidator
from sentiment_devtools.manifests.render import render

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# CI and developer machines have the CRD schemas beside the project.
SCHEMAS = Path(os.environ.get("K8S_SCHEMAS_DIR", REPO.parent / "shared" / "schemas"))
# And those of the oldest Istio supported, which the Istio resources must validate against too.
OLDEST_ISTIO_SCHEMAS = Path(os.environ.get("K8S_SCHEMAS_ISTIO_1_26_DIR", REPO.parent / "shared" / "schemas-istio-1.26"))


@pytest.fixture(scope="session")
def k8s_dir() -> Path:
    return K8S


@pytest.fixture(scope="session")
def rendered() -> list[dict]:
    return render(K8S, example_secrets=True)


@pytest.fixture(scope="session")
def rendered_local_storage() -> list[dict]:
    return render(K8S, components=("components/local-storage",), example_secrets=True)


@pytest.fixture(scope="session")
def rendered_local_images() -> list[dict]:
    return render(K8S, components=("components/local-images",), example_secrets=True)


@pytest.fixture
def documents(rendered) -> list[dict]:
    """A copy of the rendered documents for one test to break."""
    return copy.deepcopy(rendered)


@pytest.fixture(scope="session")
def validator() -> SchemaValidator:
    return SchemaValidator(SCHEMAS, also={f"Istio {OLDEST_ISTIO}": OLDEST_ISTIO_SCHEMAS})
