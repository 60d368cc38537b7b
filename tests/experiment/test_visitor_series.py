"""The report reads the per-visitor sums and the assignments under the names the services export them by."""

from app_frontend.app import create_app as create_frontend
from app_frontend.settings import Settings as FrontendSettings
from app_service.app import create_app as create_app_service
from app_service.settings import Settings as AppServiceSettings
from prometheus_client.parser import text_string_to_metric_families
from sentiment_devtools.experiment.prometheus import ASSIGNMENTS, VISITOR_SERIES
from support.clients import started_clients


def exported(client) -> dict[str, set[tuple[str, float]]]:
    """Each counter family's name (with _total), and the (version, value) of its samples."""
    families = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.type == "counter":
            families[family.name + "_total"] = {
                (sample.labels["version"], sample.value) for sample in family.samples if sample.name.endswith("_total")
            }
    return families


def test_the_app_service_exports_every_per_visitor_sum_the_report_reads_at_zero_for_its_arm(tmp_path):
    settings = AppServiceSettings(
        app_version="canary", model_service_url="http://127.0.0.1:9", database_url=f"sqlite:///{tmp_path}/r.db"
    )
    with started_clients() as start:
        families = exported(start(create_app_service(settings)))

    assert set(VISITOR_SERIES.values()) - set(families) == set()
    assert {name: families[name] for name in VISITOR_SERIES.values()} == {
        name: {("canary", 0.0)} for name in VISITOR_SERIES.values()
    }


def test_the_frontend_exports_the_assignments_the_report_reads_at_zero_for_its_arm():
    with started_clients() as start:
        families = exported(start(create_frontend(FrontendSettings(app_version="canary"))))

    assert families[ASSIGNMENTS] == {("canary", 0.0)}
