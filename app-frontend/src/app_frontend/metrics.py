"""Prometheus metrics of the app-frontend: the kit's (app_info, RED) and page views, each labelled with its arm."""

from prometheus_client import Counter
from service_kit.metrics import ServiceMetrics


class Metrics(ServiceMetrics):
    def __init__(self, version: str, release: str) -> None:
        super().__init__("app-frontend", version, release)
        self.page_views = self.of_this_arm(Counter, "page_views_total", "Review pages rendered.")
