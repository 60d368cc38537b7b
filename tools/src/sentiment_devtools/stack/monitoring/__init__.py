"""Prometheus, Alertmanager and an SMTP sink on 127.0.0.1, configured from `k8s/`.

The rules are the PrometheusRule's, the alert routes and receiver the
AlertmanagerConfig's (through sentiment_devtools.manifests.alertmanager), and
each scrape job gives its targets the labels the ServiceMonitor would (`job`
and `service`: the Service's name; `namespace`), so the same rules, alerts and dashboard queries
work locally and in the cluster. Only what cannot be the same differs: targets
are scraped on their own /metrics rather than through the Istio agent, and
e-mail goes to a local sink. `make run` and the tests start its servers with
the stack's supervisor; see docs/monitoring.md.
"""
