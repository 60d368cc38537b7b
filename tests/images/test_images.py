"""The three images, built from their Dockerfiles, running as containers the way the cluster runs their pods."""

import csv
import io

import httpx
import pytest
from sentiment_devtools.images.cli import SERVICES, image_name
from support.containers import IMAGE_USER
from support.services import EXPORT_KEY

pytestmark = pytest.mark.images

# Regression guards, well above today's sizes (docs/reliability.md has the figures): a build tool, a cache or a
# second copy of the virtualenv left in the final stage shows up here.
SIZE_BUDGET_MB = {"model-service": 560, "app-service": 260, "app-frontend": 260}


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_runs_as_its_non_root_user_without_privileges(containers, service):
    status = containers[service].process_status()

    assert status["Uid"].split() == [str(IMAGE_USER)] * 4  # real, effective, saved, filesystem
    assert status["Gid"].split() == [str(IMAGE_USER)] * 4
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"] == "1"


@pytest.mark.parametrize("service", SERVICES)
def test_the_root_filesystem_is_read_only_tmp_is_writable_and_the_healthcheck_passes(containers, service):
    container = containers[service]

    code, output = container.exec("python", "-c", "open('/opt/venv/written', 'w')")
    assert code != 0
    assert "Read-only file system" in output
    assert container.exec("python", "-c", "open('/tmp/written', 'w')") == (0, "")
    assert container.healthcheck() == 0, container.logs()


def test_the_volumes_hold_the_verified_model_and_the_database_owned_by_the_service(containers, volumes, release):
    model_folder = volumes["model-cache"] / release.version

    assert sorted(path.name for path in model_folder.iterdir()) == ["model.joblib", "model.json"]
    assert model_folder.stat().st_uid == IMAGE_USER
    assert (volumes["app-data"] / "reviews.db").stat().st_uid == IMAGE_USER


def test_a_review_goes_from_the_page_through_the_three_containers_and_its_correction_is_exported(containers, release):
    frontend, app = containers["app-frontend"], containers["app-service"]

    # Given the page, as a first-time visitor gets it
    page = httpx.get(frontend.url)
    assert page.status_code == 200
    assert f'data-api-url="{app.url}"' in page.text
    assert any(cookie.startswith("app-version=stable;") for cookie in page.headers.get_list("set-cookie"))

    # When the page's script sends a review, and the user corrects the verdict
    headers = {"Origin": frontend.url, "X-App-Version": "stable"}
    review = "The soup was cold and the waiter was rude."
    answer = httpx.post(f"{app.url}/api/v1/sentiment", json={"review": review}, headers=headers)
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    corrected = "positive" if verdict["label"] == "negative" else "negative"
    feedback = httpx.post(f"{app.url}/api/v1/reviews/{verdict['id']}/feedback", json={"label": corrected})

    # Then the whole chain answered as the stable arm with the pinned model, and the correction is exported
    assert answer.headers["access-control-allow-origin"] == frontend.url
    assert verdict["versions"] == {"app_service": "stable", "model_service": "stable", "model": release.version}
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["outcome"] == "corrected"
    export = httpx.get(f"{app.url}/api/v1/reviews/export", headers={"X-API-Key": EXPORT_KEY})
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.text, newline=""), delimiter="\t"))
    assert [review, "1" if corrected == "positive" else "0"] in rows


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_stays_within_its_size_budget(podman, service):
    size_mb = podman.image_size(image_name(service)) / 1e6

    assert size_mb < SIZE_BUDGET_MB[service], f"{image_name(service)} is {size_mb:.0f} MB"
