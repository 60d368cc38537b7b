"""Every check, run on rendered documents: schemas first, then the semantic checks, promtool and amtool."""

from collections.abc import Callable

from sentiment_devtools.checks import (
    autoscaling,
    database,
    experiments,
    model_service,
    monitoring,
    pod_security,
    pods,
    rate_limits,
    routing,
    security,
    tools,
    wiring,
)
from sentiment_devtools.checks.schemas import SchemaValidator
from sentiment_devtools.manifests.model import Manifests

# Every semantic check, in the order a reader meets the resources: how they wire together, how traffic is
# routed and limited, what each pod needs and how many of them run, who may talk to whom, what is monitored,
# what experiment runs.
CHECKS: tuple[Callable[[Manifests], list[str]], ...] = (
    wiring.selectors_match_pods,
    wiring.services_select_every_arm,
    wiring.service_ports_exist,
    wiring.references_exist,
    wiring.claims_bind,
    wiring.read_write_once_claims_attach,
    routing.destination_rule_subsets,
    routing.virtual_service_routes,
    routing.weighted_splits,
    routing.cookie_matches_are_anchored,
    rate_limits.every_public_host_limits_each_client,
    rate_limits.the_gateway_sees_the_client,
    pods.data_folders_are_mounted,
    pods.probes_and_metrics_paths,
    pods.readiness_probes_outlast_readyz,
    pods.every_service_runs_in_every_arm,
    pods.pods_are_hardened,
    pods.images_are_pinned,
    database.each_arm_reaches_its_database,
    database.replicas_roll_without_downtime,
    autoscaling.autoscalers_scale_workloads,
    autoscaling.min_replicas_within_budgets,
    autoscaling.scaled_containers_ask_for_resources,
    autoscaling.every_arm_autoscales,
    pod_security.pods_meet_the_restricted_standard,
    model_service.model_is_pinned,
    model_service.model_is_prepared,
    model_service.outbound_hosts_are_declared,
    security.authorization_principals_exist,
    security.mutual_tls_is_strict,
    security.only_the_app_service_calls_the_model_service,
    security.cors_allows_only_the_frontend,
    monitoring.service_monitors_select_services,
    monitoring.pod_monitors_select_pods,
    monitoring.rules_select_scraped_targets,
    monitoring.every_scraped_job_is_alerted_on,
    monitoring.alerts_are_actionable,
    monitoring.alert_names_are_our_own,
    monitoring.dashboards_are_valid,
    experiments.declarations_are_planned,
    experiments.the_split_is_the_declared_one,
    experiments.the_arms_run_the_declared_experiment,
)


def all_problems(documents: list[dict], validator: SchemaValidator) -> list[str]:
    """Every check on rendered documents: schemas, semantics, promtool, amtool."""
    m = Manifests(documents)
    problems = [problem for document in documents for problem in validator.problems(document)]
    for check in CHECKS:
        problems += check(m)
    problems += tools.rule_problems(m)
    problems += tools.alertmanager_problems(m)
    return problems
