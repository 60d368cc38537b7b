"""The three images, built from their Dockerfiles, running as containers the way the cluster runs their pods."""

import csv
import io

import httpx
import pytest
from sentiment_devtools.images.cli import SERVICES, image_name
from support.containers import IMAGE_USER, run_unhardened
from support.services import EXPORT_KEY

pytestmark = pytest.mark.images

# Regression guards, well above today's sizes (docs/reliability.md has the figures): a build tool, a cache or a
# second copy of the virtualenv left in the final stage shows up here.
SIZE_BUDGET_MB = {"model-service": 560, "app-service": 260, "app-frontend": 260}


# A process's own view of its identity and privileges, printed by the image's python.
STATUS = "print(open('/proc/self/status').read())"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_as_its_non_root_user_holding_no_capability_even_where_the_runtime_grants_them(
    podman, containers, service
):
    # Given the image started with the runtime's defaults, none of the pods' flags: its own USER decides
    code, output = run_unhardened(podman, image_name(service), "python", "-c", STATUS)
    status = dict(line.split(":\t", 1) for line in output.splitlines() if ":\t" in line)

    # Then its process is the image's user, with no capability in effect nor permitted (the runtime's default
    # bounding set notwithstanding), as is the service the pod runs
    assert code == 0, output
    assert status["Uid"].split() == [str(IMAGE_USER)] * 4  # real, effective, saved, filesystem
    assert status["Gid"].split() == [str(IMAGE_USER)] * 4
    assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == 0
    assert containers[service].process_status()["Uid"].split() == [str(IMAGE_USER)] * 4


@pytest.mark.parametrize("service", SERVICES)
def test_the_images_code_is_not_writable_by_its_user_and_the_service_is_healthy_on_a_read_only_root(
    podman, containers, service
):
    # Given the image with a writable root filesystem: its code and its folders are root's, not its user's
    write = "import sys; open(sys.argv[1], 'w')"
    for path in ("/opt/venv/written", "/written"):
        code, output = run_unhardened(podman, image_name(service), "python", "-c", write, path)
        assert code != 0, f"{service}: its user may write {path}"
        assert "Permission denied" in output, output

    # And on the read-only root the pods have, the service writes only /tmp and is healthy
    container = containers[service]
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
