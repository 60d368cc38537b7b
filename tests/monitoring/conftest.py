"""The manifests rendered once for the monitoring tests, as CI renders them (example secrets)."""

from pathlib import Path

import pytest
from sentiment_devtools.manifests.render import render

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def documents() -> list[dict]:
    return render(REPO / "k8s", example_secrets=True)
