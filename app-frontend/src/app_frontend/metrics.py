"""Prometheus metrics of the app-frontend: the kit's (app_info, RED), page views and the experiment's assignments,
each labelled with its arm."""

from prometheus_client import Counter
from service_kit.metrics import ServiceMetrics


class Metrics(ServiceMetrics):
    def __init__(self, version: str, release: str) -> None:
        super().__init__("app-frontend", version, release)
        self.page_views = self.of_this_arm(Counter, "page_views_total", "Review pages rendered.")
        # Behind Istio a request without a valid app-version cookie is one the split routed here; with no mesh,
        # this service sets the cookie. Either way, a new visitor this arm was assigned.
        self.assignments = self.of_this_arm(
            Counter, "experiment_assignments_total", "Pages served to requests with no valid app-version cookie."
        )
