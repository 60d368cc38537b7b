"""Each check, broken on purpose, fails: a rendered deployment with one known
bug (the bugs of the Helm charts we replace, and their cousins) makes the
check meant for it report that bug, in words that say what is wrong."""

import json
import shutil

import pytest
import yaml
from sentiment_devtools.checks import (
    autoscaling,
    experiments,
    model_service,
    monitoring,
    pod_security,
    pods,
    routing,
    security,
    tools,
    wiring,
)
from sentiment_devtools.checks.schemas import SchemaValidator
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.system import ARMS


def find(documents: list[dict], kind: str, name: str) -> dict:
    """The document of that kind whose name is `name`, or `name` plus a generator's hash."""
    return next(
        d
        for d in documents
        if d["kind"] == kind and name in (d["metadata"]["name"], d["metadata"]["name"].rpartition("-")[0])
    )


def container(documents: list[dict], deployment: str) -> dict:
    return find(documents, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def http_routes(documents: list[dict], virtual_service: str) -> list[dict]:
    return find(documents, "VirtualService", virtual_service)["spec"]["http"]


def split(documents: list[dict]) -> list[dict]:
    """The frontend's split of new visitors: [stable, canary]."""
    return http_routes(documents, "app-frontend")[-1]["route"]


def env_source(documents: list[dict], deployment: str, variable: str) -> dict:
    env = container(documents, deployment)["env"]
    return next(v for v in env if v["name"] == variable)["valueFrom"]


def settings_source(documents: list[dict], deployment: str) -> dict:
    """Where the container reads its arm's settings from: envFrom's ConfigMap reference."""
    (source,) = container(documents, deployment)["envFrom"]
    return source["configMapRef"]


# --- the mutations: each breaks one thing ----------------------------------------------------------------------


def weights_not_100(documents):
    stable, canary = split(documents)
    stable["weight"], canary["weight"] = 85, 20


def swap_cookies(documents):
    stable, canary = split(documents)
    stable["headers"], canary["headers"] = canary["headers"], stable["headers"]


def unanchor_cookie_regex(documents):
    http_routes(documents, "app-frontend")[0]["match"][0]["headers"]["cookie"]["regex"] = ".*app-version=canary.*"


def anchor_cookie_regex_to_first_cookie_only(documents):
    http_routes(documents, "app-frontend")[0]["match"][0]["headers"]["cookie"]["regex"] = "^app-version=canary$"


def move_model_cache_mount(documents):
    container(documents, "model-service-canary")["volumeMounts"][0]["mountPath"] = "/var/cache/model"


def drop_tmp_mount(documents):
    mounts = container(documents, "app-frontend-stable")["volumeMounts"]
    mounts[:] = [mount for mount in mounts if mount["mountPath"] != "/tmp"]


def rename_readiness_path(documents):
    container(documents, "app-service-stable")["readinessProbe"]["httpGet"]["path"] = "/ready"


def readyz_waits_longer_than_its_probe(documents):
    find(documents, "ConfigMap", "app-service-stable")["data"]["MODEL_SERVICE_READINESS_TIMEOUT_SECONDS"] = "2"


def probe_timeout_below_what_readyz_waits(documents):
    container(documents, "app-service-canary")["readinessProbe"]["timeoutSeconds"] = 1
    find(documents, "ConfigMap", "app-service-canary")["data"]["MODEL_SERVICE_READINESS_TIMEOUT_SECONDS"] = "1"


def point_liveness_at_another_port(documents):
    container(documents, "app-frontend-canary")["livenessProbe"]["httpGet"]["port"] = 8080


def wrong_metrics_annotation(documents):
    pod = find(documents, "Deployment", "model-service-stable")["spec"]["template"]
    pod["metadata"]["annotations"]["prometheus.io/path"] = "/stats"


def read_settings_of_no_config_map(documents):
    settings_source(documents, "app-service-canary")["name"] = "app-service-canary"  # generated: without its hash


def read_a_missing_secret(documents):
    env_source(documents, "app-service-stable", "EXPORT_API_KEY")["secretKeyRef"]["name"] = "app-service-secrets"


def empty_secret_value(documents):
    find(documents, "Secret", "sentiment-secrets")["data"]["SMTP_PASSWORD"] = ""


def set_app_version_by_hand(documents):
    env = container(documents, "model-service-canary")["env"]
    env[:] = [{"name": "APP_VERSION", "value": "stable"} if v["name"] == "APP_VERSION" else v for v in env]


def label_a_third_arm(documents):
    deployment = find(documents, "Deployment", "app-frontend-canary")
    for labels in (deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]):
        labels["version"] = "beta"


def drop_the_canary_model_service(documents):
    documents.remove(find(documents, "Deployment", "model-service-canary"))


def select_one_arm_in_the_service(documents):
    find(documents, "Service", "app-service")["spec"]["selector"]["version"] = "stable"


def serve_published_release(documents, deployment: str) -> None:
    """Switch a version to a published release, pinned as docs/model.md says."""
    data = find(documents, "ConfigMap", deployment)["data"]
    data.update(MODEL_SOURCE="release", MODEL_VERSION="v1.1.0", MODEL_SHA256="ab" * 32)


def unpin_model(documents):
    serve_published_release(documents, "model-service-stable")
    find(documents, "ConfigMap", "model-service-stable")["data"]["MODEL_SHA256"] = ""


def unknown_model_source(documents):
    find(documents, "ConfigMap", "model-service-canary")["data"]["MODEL_SOURCE"] = "github"


def half_a_pin_for_the_trained_model(documents):
    find(documents, "ConfigMap", "model-service-stable")["data"]["MODEL_SHA256"] = "b35f1b67"


def init_container(documents: list[dict], deployment: str) -> dict:
    return find(documents, "Deployment", deployment)["spec"]["template"]["spec"]["initContainers"][0]


def drop_prepare_model(documents):
    del find(documents, "Deployment", "model-service-canary")["spec"]["template"]["spec"]["initContainers"]


def prepare_another_version(documents):
    init_container(documents, "model-service-stable").setdefault("env", []).append(
        {"name": "MODEL_VERSION", "value": "v0.9.0"}  # beside envFrom: the server's settings, but this one
    )


def prepare_with_another_image(documents):
    init_container(documents, "model-service-canary")["image"] = "ghcr.io/sentiment-canary/model-service:0.9.0"


def prepare_into_another_volume(documents):
    pod = find(documents, "Deployment", "model-service-stable")["spec"]["template"]["spec"]
    pod["volumes"].append({"name": "scratch", "persistentVolumeClaim": {"claimName": "model-cache"}})
    next(m for m in pod["initContainers"][0]["volumeMounts"] if m["name"] == "model-cache")["name"] = "scratch"


def classic_istio_sidecar(documents):
    pod = find(documents, "Deployment", "model-service-canary")["spec"]["template"]
    del pod["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"]


def prepare_without_limits(documents):
    del init_container(documents, "model-service-stable")["resources"]["limits"]


def prepare_without_tmp(documents):
    mounts = init_container(documents, "model-service-canary")["volumeMounts"]
    mounts[:] = [mount for mount in mounts if mount["mountPath"] != "/tmp"]


def drop_limits(documents):
    del container(documents, "model-service-stable")["resources"]["limits"]


def writable_root_filesystem(documents):
    container(documents, "app-service-canary")["securityContext"]["readOnlyRootFilesystem"] = False


def run_as_root(documents):
    pod = find(documents, "Deployment", "app-frontend-stable")["spec"]["template"]["spec"]
    del pod["securityContext"]["runAsNonRoot"]


def forget_image_tag(documents):
    container(documents, "model-service-canary")["image"] = "model-service-canary"  # no `images:` entry


def service_selects_nothing(documents):
    find(documents, "Service", "app-service")["spec"]["selector"] = {"app": "app-svc"}


def service_targets_undeclared_port(documents):
    find(documents, "Service", "model-service")["spec"]["ports"][0]["targetPort"] = "web"


def gateway_selects_no_gateway_pods(documents):
    find(documents, "Gateway", "sentiment-gateway")["spec"]["selector"] = {"istio": "ingressgateway"}


def subset_selects_nothing(documents):
    find(documents, "DestinationRule", "app-service")["spec"]["subsets"][1]["labels"] = {"version": "canery"}


def drop_circuit_breaking(documents):
    del find(documents, "DestinationRule", "model-service")["spec"]["trafficPolicy"]["outlierDetection"]


def model_services_anywhere(documents):
    del pod_spec(documents, "model-service-canary")["affinity"]


def model_services_only_preferably_together(documents):
    affinity = pod_spec(documents, "model-service-stable")["affinity"]["podAffinity"]
    term = affinity.pop("requiredDuringSchedulingIgnoredDuringExecution")[0]
    affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [{"weight": 100, "podAffinityTerm": term}]


def model_services_together_per_arm_only(documents):
    affinity = pod_spec(documents, "model-service-stable")["affinity"]["podAffinity"]
    term = affinity["requiredDuringSchedulingIgnoredDuringExecution"][0]
    term["labelSelector"] = {"matchLabels": {"app": "model-service", "version": "stable"}}


def route_to_undefined_subset(documents):
    http_routes(documents, "app-service")[0]["route"][0]["destination"]["subset"] = "v2"


def route_without_port(documents):
    del http_routes(documents, "model-service")[1]["route"][0]["destination"]["port"]


def route_to_unknown_host(documents):
    http_routes(documents, "app-frontend")[1]["route"][0]["destination"]["host"] = "app-frontnd"


def catch_all_first(documents):
    routes = http_routes(documents, "app-service")
    routes.reverse()


def host_not_on_gateway(documents):
    find(documents, "VirtualService", "app-service")["spec"]["hosts"] = ["api.k8s.local"]


def forget_asset_host(documents):
    serve_published_release(documents, "model-service-canary")
    entry = find(documents, "ServiceEntry", "github-downloads")
    entry["spec"]["hosts"].remove("objects.githubusercontent.com")


def forget_data_host(documents):
    find(documents, "ServiceEntry", "github-downloads")["spec"]["hosts"].remove("raw.githubusercontent.com")


def principal_in_another_namespace(documents):
    rule = find(documents, "AuthorizationPolicy", "model-service-callers")["spec"]["rules"][0]
    rule["from"][0]["source"]["principals"] = ["cluster.local/ns/default/sa/app-service"]


def monitor_selects_wrong_label(documents):
    find(documents, "ServiceMonitor", "sentiment-canary")["spec"]["selector"] = {"matchLabels": {"app": "app-svc"}}


def monitor_scrapes_wrong_port(documents):
    find(documents, "ServiceMonitor", "sentiment-canary")["spec"]["endpoints"][0]["port"] = "metrics"


def alert(documents: list[dict], name: str) -> dict:
    groups = find(documents, "PrometheusRule", "sentiment-canary")["spec"]["groups"]
    return next(rule for group in groups for rule in group["rules"] if rule.get("alert") == name)


def break_promql(documents):
    alert(documents, "AppServiceErrorBudgetBurnFast")["expr"] = "namespace_job_version:up{job=app-service} > 0.05"


def rule_selects_unknown_job(documents):
    rule = alert(documents, "AppServiceErrorBudgetBurnFast")
    rule["expr"] = rule["expr"].replace('job="app-service"', 'job="app-svc"')


def alert_without_runbook(documents):
    del alert(documents, "SentimentTargetDown")["annotations"]["runbook_url"]


def alert_with_unknown_severity(documents):
    alert(documents, "SentimentTargetDown")["labels"]["severity"] = "page"


def slo_without_the_gateway(documents):
    groups = find(documents, "PrometheusRule", "sentiment-canary")["spec"]["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        if rule.get("record", "").startswith("namespace_job_version:slo_errors:"):
            window = rule["record"].rpartition("_")[2]
            rule["expr"] = f'namespace_job_version:http_request_errors:ratio_{window}{{job="app-service"}}'


def gateway_not_scraped(documents):
    documents.remove(find(documents, "PodMonitor", "sentiment-ingressgateway"))


def gateway_metrics_port_undeclared(documents):
    del container(documents, "sentiment-ingressgateway")["ports"]


def alert_named_as_the_stacks(documents):
    alert(documents, "SentimentTargetDown")["alert"] = "TargetDown"


def dashboard_without_label(documents):
    del find(documents, "ConfigMap", "grafana-dashboard-sentiment-canary")["metadata"]["labels"]["grafana_dashboard"]


def dashboard_not_json(documents):
    find(documents, "ConfigMap", "grafana-dashboard-sentiment-canary")["data"]["sentiment-canary.json"] = "{panels: []"


def secret_reference_without_hash(documents):
    # What kustomize writes when it does not know the field names a Secret.
    receiver = find(documents, "AlertmanagerConfig", "sentiment-canary")["spec"]["receivers"][0]
    receiver["emailConfigs"][0]["authPassword"]["name"] = "sentiment-secrets"


def route_to_undefined_receiver(documents):
    find(documents, "AlertmanagerConfig", "sentiment-canary")["spec"]["route"]["receiver"] = "pager"


# --- security: the Pod Security Standards' restricted profile, mutual TLS, who may call whom, CORS ---------------


def pod_spec(documents: list[dict], deployment: str) -> dict:
    return find(documents, "Deployment", deployment)["spec"]["template"]["spec"]


def windows_host_process(documents):
    pod_spec(documents, "app-frontend-stable")["securityContext"]["windowsOptions"] = {"hostProcess": True}


def share_host_network(documents):
    pod_spec(documents, "model-service-canary")["hostNetwork"] = True


def share_host_pid(documents):
    pod_spec(documents, "app-service-stable")["hostPID"] = True


def privileged_container(documents):
    container(documents, "app-service-canary")["securityContext"]["privileged"] = True


def keep_all_capabilities(documents):
    del container(documents, "app-frontend-canary")["securityContext"]["capabilities"]


def add_sys_admin(documents):
    container(documents, "model-service-stable")["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


def mount_host_path(documents):
    volumes = pod_spec(documents, "app-service-stable")["volumes"]
    volumes[:] = [v for v in volumes if v["name"] != "tmp"] + [{"name": "tmp", "hostPath": {"path": "/tmp"}}]


def mount_nfs(documents):
    pod_spec(documents, "model-service-stable")["volumes"].append(
        {"name": "shared", "nfs": {"server": "nas", "path": "/"}}
    )


def bind_host_port(documents):
    container(documents, "app-frontend-stable")["ports"][0]["hostPort"] = 8000


def probe_another_host(documents):
    container(documents, "model-service-canary")["readinessProbe"]["httpGet"]["host"] = "169.254.169.254"


def unconfined_apparmor(documents):
    container(documents, "app-service-stable")["securityContext"]["appArmorProfile"] = {"type": "Unconfined"}


def unconfined_apparmor_annotation(documents):
    pod = find(documents, "Deployment", "app-frontend-canary")["spec"]["template"]
    pod["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/app-frontend"] = "unconfined"


def custom_selinux_type(documents):
    pod_spec(documents, "model-service-stable")["securityContext"]["seLinuxOptions"] = {"type": "spc_t"}


def unmasked_proc(documents):
    container(documents, "app-service-canary")["securityContext"]["procMount"] = "Unmasked"


def unconfined_seccomp(documents):
    pod_spec(documents, "app-frontend-stable")["securityContext"]["seccompProfile"] = {"type": "Unconfined"}


def no_seccomp(documents):
    del pod_spec(documents, "app-service-canary")["securityContext"]["seccompProfile"]


def unsafe_sysctl(documents):
    pod_spec(documents, "model-service-canary")["securityContext"]["sysctls"] = [
        {"name": "kernel.msgmax", "value": "1"}
    ]


def allow_privilege_escalation(documents):
    del container(documents, "model-service-stable")["securityContext"]["allowPrivilegeEscalation"]


def container_runs_as_root_explicitly(documents):
    container(documents, "app-service-stable")["securityContext"]["runAsNonRoot"] = False


def run_as_uid_0(documents):
    container(documents, "app-frontend-canary")["securityContext"]["runAsUser"] = 0


def init_container_without_security_context(documents):
    pod_spec(documents, "model-service-stable")["initContainers"] = [{"name": "fetch", "image": "busybox:1"}]


def permissive_mtls(documents):
    find(documents, "PeerAuthentication", "default")["spec"]["mtls"]["mode"] = "PERMISSIVE"


def mtls_for_some_pods_only(documents):
    find(documents, "PeerAuthentication", "default")["spec"]["selector"] = {"matchLabels": {"app": "model-service"}}


def plain_text_port(documents):
    find(documents, "PeerAuthentication", "default")["spec"]["portLevelMtls"] = {"8000": {"mode": "DISABLE"}}


def model_service_callers(documents) -> dict:
    return find(documents, "AuthorizationPolicy", "model-service-callers")["spec"]


def frontend_may_call_the_model_service(documents):
    model_service_callers(documents)["rules"][0]["from"][0]["source"]["principals"].append(
        "cluster.local/ns/sentiment/sa/app-frontend"
    )


def any_caller_may_call_the_model_service(documents):
    del model_service_callers(documents)["rules"][0]["from"]


def callers_by_namespace(documents):
    model_service_callers(documents)["rules"][0]["from"][0]["source"] = {"namespaces": ["sentiment"]}


def policy_selects_no_model_service(documents):
    model_service_callers(documents)["selector"]["matchLabels"] = {"app": "model-svc"}


def app_service_canary_runs_as_another_account(documents):
    pod_spec(documents, "app-service-canary")["serviceAccountName"] = "app-frontend"


def delete_the_app_service_account(documents):
    documents.remove(find(documents, "ServiceAccount", "app-service"))


def cors_allows_everyone(documents):
    find(documents, "ConfigMap", "app-service-canary")["data"]["CORS_ALLOWED_ORIGINS"] = "*"


def cors_allows_another_site(documents):
    config = find(documents, "ConfigMap", "app-service-stable")["data"]
    config["CORS_ALLOWED_ORIGINS"] += ",https://evil.example"


def cors_allows_plain_http(documents):
    find(documents, "ConfigMap", "app-service-stable")["data"]["CORS_ALLOWED_ORIGINS"] = "http://app-frontend.k8s.local"


def declaration(documents: list[dict], experiment: str) -> dict:
    """The declaration of `experiment` in the experiments ConfigMap, parsed."""
    return yaml.safe_load(find(documents, "ConfigMap", "experiments")["data"][f"{experiment}.yaml"])


def redeclare(documents: list[dict], experiment: str, **changes) -> None:
    declared = declaration(documents, experiment) | changes
    find(documents, "ConfigMap", "experiments")["data"][f"{experiment}.yaml"] = yaml.safe_dump(declared)


def move_the_weight_without_the_declaration(documents):
    stable, canary = split(documents)
    stable["weight"], canary["weight"] = 80, 20


def declare_another_split(documents):
    redeclare(documents, "confidence-display", split={"canary": 0.2})


def move_the_srm_share_alone(documents):
    groups = find(documents, "PrometheusRule", "sentiment-canary")["spec"]["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("record") == experiments.DECLARED_SHARE)
    rule["expr"] = "vector(0.20)"


def plan_more_than_the_plan_computes(documents):
    redeclare(documents, "model-version-v1-1-0", planned_reviews=300000)


def plan_fewer_than_the_plan_needs(documents):
    redeclare(documents, "confidence-display", planned_reviews=200000)


def run_an_undeclared_experiment(documents):
    find(documents, "ConfigMap", "experiments")["data"]["running"] = "bigger-buttons"


def run_another_experiment_in_one_arm(documents):
    find(documents, "ConfigMap", "app-service-canary")["data"]["EXPERIMENT_ID"] = "model-version-v1-1-0"


def start_another_experiment_without_the_arms(documents):
    find(documents, "ConfigMap", "experiments")["data"]["running"] = "model-version-v1-1-0"


# --- the autoscalers: what they scale, within the budgets, on requests, in every arm --------------------------


def autoscaler(documents: list[dict], deployment: str) -> dict:
    return find(documents, "HorizontalPodAutoscaler", deployment)["spec"]


def scale_a_misspelled_deployment(documents):
    autoscaler(documents, "app-service-canary")["scaleTargetRef"]["name"] = "app-service-canry"


def scale_another_kind(documents):
    autoscaler(documents, "model-service-stable")["scaleTargetRef"]["kind"] = "StatefulSet"


def scale_an_old_api_version(documents):
    autoscaler(documents, "app-frontend-stable")["scaleTargetRef"]["apiVersion"] = "extensions/v1beta1"


def max_below_min(documents):
    autoscaler(documents, "model-service-canary").update(minReplicas=5, maxReplicas=4)


def keep_replicas_beside_the_autoscaler(documents):
    find(documents, "Deployment", "app-service-stable")["spec"]["replicas"] = 2


def two_autoscalers_for_one_deployment(documents):
    second = json.loads(json.dumps(find(documents, "HorizontalPodAutoscaler", "app-frontend-canary")))
    second["metadata"]["name"] = "app-frontend-canary-memory"
    documents.append(second)


def min_replicas_the_budget_keeps(documents):
    autoscaler(documents, "app-service-stable")["minReplicas"] = 1


def budget_lets_every_pod_go(documents):
    find(documents, "PodDisruptionBudget", "app-service-canary")["spec"] = {
        "maxUnavailable": 2,
        "selector": find(documents, "PodDisruptionBudget", "app-service-canary")["spec"]["selector"],
    }


def budget_lets_every_pod_go_by_percentage(documents):
    find(documents, "PodDisruptionBudget", "app-service-stable")["spec"].pop("minAvailable")
    find(documents, "PodDisruptionBudget", "app-service-stable")["spec"]["maxUnavailable"] = "60%"  # of 2: 1.2 -> 2


def scale_a_container_without_a_cpu_request(documents):
    del container(documents, "model-service-stable")["resources"]["requests"]["cpu"]


def scale_an_init_container_without_a_memory_request(documents):
    del init_container(documents, "model-service-canary")["resources"]["requests"]["memory"]


def leave_the_proxy_to_istios_default(documents):
    del find(documents, "Deployment", "app-frontend-stable")["spec"]["template"]["metadata"]["annotations"][
        "sidecar.istio.io/proxyCPU"
    ]


def read_a_container_the_pod_lacks(documents):
    autoscaler(documents, "app-service-canary")["metrics"][0]["containerResource"]["container"] = "app"


def forget_the_canary_autoscaler(documents):
    documents.remove(find(documents, "HorizontalPodAutoscaler", "app-service-canary"))


def scale_on_memory_only(documents):
    metric = autoscaler(documents, "model-service-stable")["metrics"][0]["containerResource"]
    metric["name"] = "memory"


MUTATIONS = [
    # The experiment declared in k8s/experiments/ and what runs
    (
        move_the_weight_without_the_declaration,
        experiments.the_split_is_the_declared_one,
        "confidence-display: the declared split gives the canary 0.1 of new visitors, and VirtualService/app-frontend "
        "weighs it 20 of 100: change the weight and the declaration together",
    ),
    (
        declare_another_split,
        experiments.the_split_is_the_declared_one,
        "and VirtualService/app-frontend weighs it 10 of 100",
    ),
    (
        move_the_srm_share_alone,
        experiments.the_split_is_the_declared_one,
        "PrometheusRule/sentiment-canary: experiment:experiment_assignments_canary:share_declared is 'vector(0.20)', "
        "and confidence-display declares a canary share of 0.1",
    ),
    (
        plan_more_than_the_plan_computes,
        experiments.declarations_are_planned,
        "model-version-v1-1-0.yaml plans 300000 reviews, and its plan (baseline, minimal effect, split, design "
        "effect, alpha, power) computes 281213",
    ),
    (
        plan_fewer_than_the_plan_needs,
        experiments.declarations_are_planned,
        "planned_reviews 200000 is below the 281213 reviews the plan needs",
    ),
    (
        run_an_undeclared_experiment,
        experiments.declarations_are_planned,
        "running='bigger-buttons' names no declaration (declared: ['confidence-display', 'model-version-v1-1-0'])",
    ),
    (
        run_another_experiment_in_one_arm,
        experiments.the_arms_run_the_declared_experiment,
        "Deployment/app-service-canary: EXPERIMENT_ID is 'model-version-v1-1-0', and ConfigMap/experiments says "
        "'confidence-display' runs",
    ),
    (
        start_another_experiment_without_the_arms,
        experiments.the_arms_run_the_declared_experiment,
        "Deployment/app-service-stable: EXPERIMENT_ID is 'confidence-display', and ConfigMap/experiments says "
        "'model-version-v1-1-0' runs",
    ),
    (
        model_services_anywhere,
        wiring.read_write_once_claims_attach,
        "PersistentVolumeClaim/model-cache (ReadWriteOnce): Deployment/model-service-canary's pods mount it beside "
        "Deployment/model-service-stable and its own new pod in a rollout, and nothing requires them on one node: on "
        "a multi-node cluster with block storage they stay in ContainerCreating (Multi-Attach error)",
    ),
    (
        model_services_only_preferably_together,
        wiring.read_write_once_claims_attach,
        "Deployment/model-service-stable's pods mount it beside Deployment/model-service-canary and its own new pod "
        "in a rollout, and nothing requires them on one node",
    ),
    (
        model_services_together_per_arm_only,
        wiring.read_write_once_claims_attach,
        "Deployment/model-service-stable's pods mount it beside Deployment/model-service-canary and its own new pod",
    ),
    (
        readyz_waits_longer_than_its_probe,
        pods.readiness_probes_outlast_readyz,
        "Deployment/app-service-stable: app-service readinessProbe gives up after 1 s (timeoutSeconds, the kubelet's "
        "default), and its /readyz waits up to 2 s (MODEL_SERVICE_READINESS_TIMEOUT_SECONDS): a slow dependency",
    ),
    (
        probe_timeout_below_what_readyz_waits,
        pods.readiness_probes_outlast_readyz,
        "Deployment/app-service-canary: app-service readinessProbe gives up after 1 s (timeoutSeconds), and its "
        "/readyz waits up to 1 s",
    ),
    # The autoscalers
    (
        scale_a_misspelled_deployment,
        autoscaling.autoscalers_scale_workloads,
        "HorizontalPodAutoscaler/app-service-canary: scales Deployment/app-service-canry (apps/v1), which is no "
        "Deployment/StatefulSet/DaemonSet of namespace sentiment",
    ),
    (
        scale_another_kind,
        autoscaling.autoscalers_scale_workloads,
        "HorizontalPodAutoscaler/model-service-stable: scales StatefulSet/model-service-stable (apps/v1), which is no",
    ),
    (
        scale_an_old_api_version,
        autoscaling.autoscalers_scale_workloads,
        "scales Deployment/app-frontend-stable (extensions/v1beta1), which is no Deployment/StatefulSet/DaemonSet of "
        "namespace sentiment (there is one of apps/v1)",
    ),
    (
        max_below_min,
        autoscaling.autoscalers_scale_workloads,
        "HorizontalPodAutoscaler/model-service-canary: maxReplicas 4 is below minReplicas 5",
    ),
    (
        keep_replicas_beside_the_autoscaler,
        autoscaling.autoscalers_scale_workloads,
        "Deployment/app-service-stable: sets replicas: 2, and HorizontalPodAutoscaler/app-service-stable owns its "
        "count: every `kubectl apply` would reset it",
    ),
    (
        two_autoscalers_for_one_deployment,
        autoscaling.autoscalers_scale_workloads,
        "Deployment/app-frontend-canary: scaled by HorizontalPodAutoscaler/app-frontend-canary, "
        "HorizontalPodAutoscaler/app-frontend-canary-memory: autoscalers of one workload fight over its count",
    ),
    (
        min_replicas_the_budget_keeps,
        autoscaling.min_replicas_within_budgets,
        "HorizontalPodAutoscaler/app-service-stable: minReplicas 1, and PodDisruptionBudget/app-service-stable lets "
        "none of 1 pods go: a node drain would never end",
    ),
    (
        budget_lets_every_pod_go,
        autoscaling.min_replicas_within_budgets,
        "HorizontalPodAutoscaler/app-service-canary: minReplicas 2, and PodDisruptionBudget/app-service-canary lets "
        "all 2 pods go at once",
    ),
    (
        budget_lets_every_pod_go_by_percentage,
        autoscaling.min_replicas_within_budgets,
        "PodDisruptionBudget/app-service-stable lets all 2 pods go at once",
    ),
    (
        scale_a_container_without_a_cpu_request,
        autoscaling.scaled_containers_ask_for_resources,
        "HorizontalPodAutoscaler/model-service-stable: Deployment/model-service-stable's container model-service "
        "requests no cpu: its utilisation is unknown to the autoscaler",
    ),
    (
        scale_an_init_container_without_a_memory_request,
        autoscaling.scaled_containers_ask_for_resources,
        "Deployment/model-service-canary's container prepare-model requests no memory",
    ),
    (
        leave_the_proxy_to_istios_default,
        autoscaling.scaled_containers_ask_for_resources,
        "HorizontalPodAutoscaler/app-frontend-stable: Deployment/app-frontend-stable's injected Istio proxy has no "
        "sidecar.istio.io/proxyCPU",
    ),
    (
        read_a_container_the_pod_lacks,
        autoscaling.scaled_containers_ask_for_resources,
        "its ContainerResource metric reads container app, which Deployment/app-service-canary's pods do not have",
    ),
    (
        forget_the_canary_autoscaler,
        autoscaling.every_arm_autoscales,
        "Deployment/app-service-canary: no HorizontalPodAutoscaler scales it",
    ),
    (
        scale_on_memory_only,
        autoscaling.every_arm_autoscales,
        "HorizontalPodAutoscaler/model-service-stable: scales Deployment/model-service-stable on no CPU metric",
    ),
    # (mutation, check that must catch it, what it must say)
    (weights_not_100, routing.weighted_splits, "weights {'stable': 85, 'canary': 20} add up to 105, not 100"),
    (swap_cookies, routing.weighted_splits, "the stable destination must set the cookie app-version=stable"),
    (
        unanchor_cookie_regex,
        routing.cookie_matches_are_anchored,
        "matches 'xapp-version=canary', which is not the canary cookie",
    ),
    (
        unanchor_cookie_regex,
        routing.cookie_matches_are_anchored,
        "matches 'app-version=canaryX', which is not the canary cookie",
    ),
    (
        anchor_cookie_regex_to_first_cookie_only,
        routing.cookie_matches_are_anchored,
        "does not match 'a=1; app-version=canary; b=2'",
    ),
    (
        move_model_cache_mount,
        pods.data_folders_are_mounted,
        "Deployment/model-service-canary: model-service writes to /var/cache/model-service (MODEL_CACHE_DIR), "
        "but no writable persistentVolumeClaim is mounted there",
    ),
    (
        drop_tmp_mount,
        pods.data_folders_are_mounted,
        "app-frontend writes to /tmp (its temporary files), but no writable emptyDir is mounted there",
    ),
    (
        rename_readiness_path,
        pods.probes_and_metrics_paths,
        "app-service readinessProbe asks /ready, but the service answers it on /readyz",
    ),
    (
        point_liveness_at_another_port,
        pods.probes_and_metrics_paths,
        "livenessProbe port 8080 is not the service's port 8000",
    ),
    (
        wrong_metrics_annotation,
        pods.probes_and_metrics_paths,
        "pod annotation prometheus.io/path is '/stats', must be '/metrics'",
    ),
    (
        read_settings_of_no_config_map,
        wiring.references_exist,
        "Deployment/app-service-canary: app-service reads ConfigMap/app-service-canary, which does not exist",
    ),
    (read_a_missing_secret, wiring.references_exist, "reads Secret/app-service-secrets, which does not exist"),
    (empty_secret_value, wiring.references_exist, ": SMTP_PASSWORD is empty"),
    (
        secret_reference_without_hash,
        wiring.references_exist,
        "receiver team-email reads key SMTP_PASSWORD of Secret/sentiment-secrets, which does not exist",
    ),
    (
        set_app_version_by_hand,
        pods.every_service_runs_in_every_arm,
        "model-service-canary: model-service has APP_VERSION=stable, but its pods are labelled version=canary",
    ),
    (
        label_a_third_arm,
        pods.every_service_runs_in_every_arm,
        f"Deployment/app-frontend-canary: pod label version=beta, must be one of {ARMS}",
    ),
    (label_a_third_arm, pods.every_service_runs_in_every_arm, "app-frontend: 0 Deployments of the canary arm, not one"),
    (
        drop_the_canary_model_service,
        pods.every_service_runs_in_every_arm,
        "model-service: 0 Deployments of the canary arm, not one",
    ),
    (
        select_one_arm_in_the_service,
        wiring.services_select_every_arm,
        "Service/app-service: selects {'app': 'app-service', 'version': 'stable'}: a Service selects `app` only",
    ),
    (
        unpin_model,
        model_service.model_is_pinned,
        "Deployment/model-service-stable: model-service: MODEL_SHA256='' pins no sha256: copy the `sha256` of the "
        "published release's own model.json",
    ),
    (
        unknown_model_source,
        model_service.model_is_pinned,
        "Deployment/model-service-canary: prepare-model: MODEL_SOURCE='github' is none of ('release', 'trained')",
    ),
    (half_a_pin_for_the_trained_model, model_service.model_is_pinned, "MODEL_SHA256='b35f1b67' is no sha256"),
    (
        drop_prepare_model,
        model_service.model_is_prepared,
        "Deployment/model-service-canary: no init container runs `model-service prepare`: with MODEL_SOURCE=trained "
        "the server never becomes ready",
    ),
    (
        prepare_another_version,
        model_service.model_is_prepared,
        "Deployment/model-service-stable: prepare-model prepares MODEL_VERSION='v0.9.0', and model-service serves "
        "MODEL_VERSION='v1.0.0'",
    ),
    (
        prepare_with_another_image,
        model_service.model_is_prepared,
        "prepare-model runs image 'ghcr.io/sentiment-canary/model-service:0.9.0', and model-service "
        "'ghcr.io/sentiment-canary/model-service:1.0.0'",
    ),
    (
        prepare_into_another_volume,
        model_service.model_is_prepared,
        "prepare-model writes the model to volume 'scratch' at /var/cache/model-service, and model-service reads it "
        "from volume 'model-cache'",
    ),
    (
        classic_istio_sidecar,
        model_service.model_is_prepared,
        'Deployment/model-service-canary: must annotate its pods sidecar.istio.io/nativeSidecar: "true"',
    ),
    (
        prepare_without_limits,
        pods.pods_are_hardened,
        "Deployment/model-service-stable: prepare-model has no limits for cpu, memory",
    ),
    (
        prepare_without_tmp,
        pods.data_folders_are_mounted,
        "Deployment/model-service-canary: prepare-model writes to /tmp (its temporary files)",
    ),
    (
        drop_limits,
        pods.pods_are_hardened,
        "Deployment/model-service-stable: model-service has no limits for cpu, memory",
    ),
    (writable_root_filesystem, pods.pods_are_hardened, "must set readOnlyRootFilesystem: true"),
    (
        forget_image_tag,
        pods.images_are_pinned,
        "runs image 'model-service-canary': give it a registry name and a tag",
    ),
    (
        service_selects_nothing,
        wiring.selectors_match_pods,
        "Service/app-service: selects pods labelled {'app': 'app-svc'}, and no Deployment's pods are",
    ),
    (
        gateway_selects_no_gateway_pods,
        wiring.selectors_match_pods,
        "Gateway/sentiment-gateway: selects pods labelled {'istio': 'ingressgateway'}",
    ),
    (service_targets_undeclared_port, wiring.service_ports_exist, "Service/model-service: port http targets 'web'"),
    (
        subset_selects_nothing,
        routing.destination_rule_subsets,
        "DestinationRule/app-service: subset canary selects pods labelled {'app': 'app-service', 'version': 'canery'}",
    ),
    (drop_circuit_breaking, routing.destination_rule_subsets, "DestinationRule/model-service: no circuit breaking"),
    (
        route_to_undefined_subset,
        routing.virtual_service_routes,
        "destination app-service subset v2 is in no DestinationRule",
    ),
    (
        route_without_port,
        routing.virtual_service_routes,
        "destination model-service names no port, and its Service has several [80, 15020]",
    ),
    (
        route_to_unknown_host,
        routing.virtual_service_routes,
        "destination host app-frontnd is no Service nor ServiceEntry host",
    ),
    (
        catch_all_first,
        routing.virtual_service_routes,
        "route default-stable matches everything, so the routes after it never apply",
    ),
    (
        host_not_on_gateway,
        routing.virtual_service_routes,
        "host api.k8s.local is not served by Gateway/sentiment-gateway",
    ),
    (
        forget_asset_host,
        model_service.outbound_hosts_are_declared,
        "Deployment/model-service-canary: model-service downloads the model from objects.githubusercontent.com, "
        "which no ServiceEntry declares",
    ),
    (
        forget_data_host,
        model_service.outbound_hosts_are_declared,
        "Deployment/model-service-stable: prepare-model downloads the training data from raw.githubusercontent.com, "
        "which no ServiceEntry declares",
    ),
    (
        principal_in_another_namespace,
        security.authorization_principals_exist,
        "allows cluster.local/ns/default/sa/app-service, "
        "but no pod runs as service account app-service in namespace default",
    ),
    (
        monitor_selects_wrong_label,
        monitoring.service_monitors_select_services,
        "Service/app-service: its pods export metrics, and no ServiceMonitor selects it",
    ),
    (
        monitor_scrapes_wrong_port,
        monitoring.service_monitors_select_services,
        "scrapes port metrics, which Service/app-service does not have",
    ),
    (
        rule_selects_unknown_job,
        monitoring.rules_select_scraped_targets,
        'rule AppServiceErrorBudgetBurnFast selects job="app-svc", and no scraped target has it',
    ),
    (
        alert_without_runbook,
        monitoring.alerts_are_actionable,
        "alert SentimentTargetDown lacks the annotations ['runbook_url']",
    ),
    (
        alert_with_unknown_severity,
        monitoring.alerts_are_actionable,
        "alert SentimentTargetDown has severity 'page', not one of ('critical', 'warning')",
    ),
    (
        slo_without_the_gateway,
        monitoring.every_scraped_job_is_alerted_on,
        "job sentiment-ingressgateway is scraped, and no alert reads its metrics (nor a recording rule an alert "
        "reads): its failures page nobody",
    ),
    (
        gateway_not_scraped,
        monitoring.pod_monitors_select_pods,
        "Gateway/sentiment-gateway: its pods (Deployment/sentiment-ingressgateway) answer every user's request, and no "
        "PodMonitor scrapes them",
    ),
    (
        gateway_metrics_port_undeclared,
        monitoring.pod_monitors_select_pods,
        "PodMonitor/sentiment-ingressgateway: scrapes port http-envoy-prom, which "
        "Deployment/sentiment-ingressgateway's containers do not declare",
    ),
    (
        alert_named_as_the_stacks,
        monitoring.alert_names_are_our_own,
        "alert TargetDown has the name of a kube-prometheus-stack default alert",
    ),
    (break_promql, tools.rule_problems, "promtool check rules failed"),
    (dashboard_without_label, monitoring.dashboards_are_valid, 'lacks the label grafana_dashboard: "1"'),
    (dashboard_not_json, monitoring.dashboards_are_valid, "sentiment-canary.json is not JSON"),
    (
        secret_reference_without_hash,
        tools.alertmanager_problems,
        "Secret/sentiment-secrets does not exist or has no key SMTP_PASSWORD",
    ),
    (
        route_to_undefined_receiver,
        tools.alertmanager_problems,
        'undefined receiver "sentiment/sentiment-canary/pager"',
    ),
    # Each control of the Pod Security Standards' restricted profile
    (
        windows_host_process,
        pod_security.pods_meet_the_restricted_standard,
        "HostProcess: the pod sets securityContext.windowsOptions.hostProcess",
    ),
    (
        share_host_network,
        pod_security.pods_meet_the_restricted_standard,
        "Host Namespaces: the pod sets hostNetwork: true",
    ),
    (share_host_pid, pod_security.pods_meet_the_restricted_standard, "Host Namespaces: the pod sets hostPID: true"),
    (
        privileged_container,
        pod_security.pods_meet_the_restricted_standard,
        "Privileged Containers: container app-service sets securityContext.privileged",
    ),
    (
        keep_all_capabilities,
        pod_security.pods_meet_the_restricted_standard,
        "Capabilities: container app-frontend must drop ALL capabilities",
    ),
    (
        add_sys_admin,
        pod_security.pods_meet_the_restricted_standard,
        "Capabilities: container model-service adds capabilities SYS_ADMIN",
    ),
    (mount_host_path, pod_security.pods_meet_the_restricted_standard, "Volume Types: volume tmp is of type hostPath"),
    (mount_nfs, pod_security.pods_meet_the_restricted_standard, "Volume Types: volume shared is of type nfs"),
    (
        bind_host_port,
        pod_security.pods_meet_the_restricted_standard,
        "Host Ports: container app-frontend binds hostPort 8000",
    ),
    (
        probe_another_host,
        pod_security.pods_meet_the_restricted_standard,
        "Host Probes / Lifecycle Hooks: container model-service readinessProbe.httpGet asks host 169.254.169.254",
    ),
    (
        unconfined_apparmor,
        pod_security.pods_meet_the_restricted_standard,
        "AppArmor: container app-service sets appArmorProfile.type Unconfined",
    ),
    (
        unconfined_apparmor_annotation,
        pod_security.pods_meet_the_restricted_standard,
        "AppArmor: annotation container.apparmor.security.beta.kubernetes.io/app-frontend is unconfined",
    ),
    (
        custom_selinux_type,
        pod_security.pods_meet_the_restricted_standard,
        "SELinux: the pod sets seLinuxOptions.type spc_t",
    ),
    (
        unmasked_proc,
        pod_security.pods_meet_the_restricted_standard,
        "/proc Mount Type: container app-service sets procMount Unmasked",
    ),
    (
        unconfined_seccomp,
        pod_security.pods_meet_the_restricted_standard,
        "Seccomp: the pod sets seccompProfile.type Unconfined",
    ),
    (
        no_seccomp,
        pod_security.pods_meet_the_restricted_standard,
        "Seccomp: container app-service has no seccompProfile (RuntimeDefault), nor has the pod",
    ),
    (unsafe_sysctl, pod_security.pods_meet_the_restricted_standard, "Sysctls: the pod sets sysctl kernel.msgmax"),
    (
        allow_privilege_escalation,
        pod_security.pods_meet_the_restricted_standard,
        "Deployment/model-service-stable: Pod Security Standard restricted, Privilege Escalation: container "
        "model-service must set securityContext.allowPrivilegeEscalation: false",
    ),
    (
        run_as_root,
        pod_security.pods_meet_the_restricted_standard,
        "Deployment/app-frontend-stable: Pod Security Standard restricted, Running as Non-root: container "
        "app-frontend must run with securityContext.runAsNonRoot: true (or the pod)",
    ),
    (
        container_runs_as_root_explicitly,
        pod_security.pods_meet_the_restricted_standard,
        "Running as Non-root: container app-service must run with",
    ),
    (
        run_as_uid_0,
        pod_security.pods_meet_the_restricted_standard,
        "Running as Non-root user: container app-frontend sets runAsUser: 0",
    ),
    (
        init_container_without_security_context,
        pod_security.pods_meet_the_restricted_standard,
        "Privilege Escalation: container fetch must set securityContext.allowPrivilegeEscalation: false",
    ),
    (
        init_container_without_security_context,
        pod_security.pods_meet_the_restricted_standard,
        "Capabilities: container fetch must drop ALL capabilities",
    ),
    # Mutual TLS everywhere
    (
        permissive_mtls,
        security.mutual_tls_is_strict,
        "namespace sentiment: no PeerAuthentication without a selector sets mtls.mode STRICT",
    ),
    (permissive_mtls, security.mutual_tls_is_strict, "PeerAuthentication/default: mtls sets mode PERMISSIVE"),
    (
        mtls_for_some_pods_only,
        security.mutual_tls_is_strict,
        "namespace sentiment: no PeerAuthentication without a selector sets mtls.mode STRICT",
    ),
    (plain_text_port, security.mutual_tls_is_strict, "PeerAuthentication/default: port 8000 sets mode DISABLE"),
    # Only the app-service calls the model-service
    (
        frontend_may_call_the_model_service,
        security.only_the_app_service_calls_the_model_service,
        "AuthorizationPolicy/model-service-callers: allows cluster.local/ns/sentiment/sa/app-frontend, which is not "
        "the service account of the app-service's pods (sentiment/app-service)",
    ),
    (
        any_caller_may_call_the_model_service,
        security.only_the_app_service_calls_the_model_service,
        "AuthorizationPolicy/model-service-callers: rule 0 has no `from`, so it allows every caller",
    ),
    (
        callers_by_namespace,
        security.only_the_app_service_calls_the_model_service,
        "a source without principals ({'namespaces': ['sentiment']}) allows callers that are not the app-service",
    ),
    (
        policy_selects_no_model_service,
        security.only_the_app_service_calls_the_model_service,
        "Deployment/model-service-canary: no ALLOW AuthorizationPolicy selects its pods, so any workload may call it",
    ),
    (
        app_service_canary_runs_as_another_account,
        security.only_the_app_service_calls_the_model_service,
        "no AuthorizationPolicy of the model-service allows the app-service's service account app-frontend",
    ),
    (
        delete_the_app_service_account,
        security.only_the_app_service_calls_the_model_service,
        "allows cluster.local/ns/sentiment/sa/app-service, and ServiceAccount/app-service does not exist",
    ),
    # Browsers may call the app-service from the frontend's page only
    (
        cors_allows_everyone,
        security.cors_allows_only_the_frontend,
        "Deployment/app-service-canary: CORS_ALLOWED_ORIGINS is '*'; it must be exactly the frontend's public "
        "origin https://app-frontend.k8s.local",
    ),
    (
        cors_allows_another_site,
        security.cors_allows_only_the_frontend,
        "CORS_ALLOWED_ORIGINS is 'https://app-frontend.k8s.local,https://evil.example'",
    ),
    (
        cors_allows_plain_http,
        security.cors_allows_only_the_frontend,
        "CORS_ALLOWED_ORIGINS is 'http://app-frontend.k8s.local'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "check", "expected"),
    MUTATIONS,
    ids=[f"{mutate.__name__}-{check.__name__}" for mutate, check, _ in MUTATIONS],
)
def test_the_check_reports_the_broken_deployment(documents, mutate, check, expected):
    assert check(Manifests(documents)) == [], "the unbroken deployment already fails this check"
    mutate(documents)
    problems = check(Manifests(documents))
    assert any(expected in problem for problem in problems), problems


def test_a_misspelled_field_of_an_istio_resource_fails_validation(documents, validator):
    destination = split(documents)[0]
    destination["weigth"] = destination.pop("weight")
    problems = validator.problems(find(documents, "VirtualService", "app-frontend"))
    assert problems == [
        "VirtualService/app-frontend: spec.http.2.route.0: "
        "Additional properties are not allowed ('weigth' was unexpected)"
    ]


def test_a_misspelled_field_of_a_built_in_kind_fails_validation(documents, validator):
    container(documents, "model-service-stable")["readinessProbe"]["periodSecond"] = 5
    problems = validator.problems(find(documents, "Deployment", "model-service-stable"))
    assert problems == [
        "Deployment/model-service-stable: spec.template.spec.containers.0.readinessProbe: "
        "Additional properties are not allowed ('periodSecond' was unexpected)"
    ]


def test_a_misspelled_field_of_an_autoscaler_fails_validation(documents, validator):
    # autoscaling/v2, as Kubernetes 1.33 serves it
    spec = find(documents, "HorizontalPodAutoscaler", "app-service-stable")["spec"]
    spec["minReplica"] = spec.pop("minReplicas")
    problems = validator.problems(find(documents, "HorizontalPodAutoscaler", "app-service-stable"))
    assert problems == [
        "HorizontalPodAutoscaler/app-service-stable: spec: Additional properties are not allowed ('minReplica' was "
        "unexpected)"
    ]


def test_a_misspelled_label_field_of_a_custom_resource_fails_validation(documents, validator):
    monitor = find(documents, "ServiceMonitor", "sentiment-canary")
    monitor["metadata"]["lables"] = monitor["metadata"].pop("labels")
    assert validator.problems(monitor) == [
        "ServiceMonitor/sentiment-canary: metadata: Additional properties are not allowed ('lables' was unexpected)"
    ]


def test_a_field_only_a_newer_istio_knows_fails_validation_against_the_oldest_supported(documents, validator):
    # A field a newer Istio added (in the newest schemas, not 1.26's): Istio 1.26's API server refuses it (strict field
    # validation), or with validation off drops it: the circuit breaker would not count those codes.
    rule = find(documents, "DestinationRule", "model-service")
    rule["spec"]["trafficPolicy"]["outlierDetection"]["outlierDetectionHttpErrorCodes"] = [503]
    assert validator.problems(rule) == [
        "DestinationRule/model-service: spec.trafficPolicy.outlierDetection: Additional properties are not allowed "
        "('outlierDetectionHttpErrorCodes' was unexpected) (by Istio 1.26's schemas, the oldest supported)"
    ]


def test_a_kind_the_oldest_supported_istio_lacks_fails_validation(tmp_path, documents, validator):
    # Given the oldest Istio's schemas without the EnvoyFilter kind, as an Istio before it had one
    older = tmp_path / "older-istio"
    (oldest,) = validator.also.values()
    shutil.copytree(oldest, older)
    (older / "networking.istio.io" / "envoyfilter_v1alpha3.json").unlink()

    problems = SchemaValidator(validator.schema_dir, also={"Istio 0.1": older}).problems(
        find(documents, "EnvoyFilter", "rate-limits")
    )

    assert len(problems) == 1
    assert problems[0].startswith("EnvoyFilter/rate-limits: no schema for networking.istio.io/v1alpha3 EnvoyFilter")
    assert problems[0].endswith("(by Istio 0.1's schemas, the oldest supported)")


def test_a_kind_without_schema_fails_validation(validator):
    for api_version in ("networking.istio.io/v1", "example.com/v1"):
        problems = validator.problems({"apiVersion": api_version, "kind": "Canary", "metadata": {"name": "x"}})
        assert len(problems) == 1
        assert problems[0].startswith(f"Canary/x: no schema for {api_version} Canary")


def test_fields_istio_passes_to_envoy_unchecked_stay_unchecked(documents, validator):
    # The EnvoyFilter's patch is Envoy configuration, x-kubernetes-preserve-unknown-fields.
    envoy_filter = find(documents, "EnvoyFilter", "rate-limits")
    envoy_filter["spec"]["configPatches"][0]["patch"]["value"]["any_envoy_field"] = 1
    assert validator.problems(envoy_filter) == []


def test_a_claim_naming_a_missing_volume_does_not_bind(rendered_local_storage):
    documents = json.loads(json.dumps(rendered_local_storage))
    find(documents, "PersistentVolumeClaim", "model-cache")["spec"]["volumeName"] = "sentiment-model-cach"
    assert wiring.claims_bind(Manifests(documents)) == [
        "PersistentVolumeClaim/model-cache: names PersistentVolume/sentiment-model-cach, which does not exist"
    ]


def allowed_by_the_restricted_standard(documents):
    """What the standard allows, so that a check cannot pass by forbidding more than it does."""
    pod = pod_spec(documents, "app-service-stable")
    del pod["securityContext"]["runAsNonRoot"]  # set on every container instead
    pod["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "profiles/app.json"}
    pod["securityContext"]["sysctls"] = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]
    pod["volumes"].append({"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}})
    security_context = pod["containers"][0]["securityContext"]
    security_context["runAsNonRoot"] = True
    security_context["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    security_context["appArmorProfile"] = {"type": "RuntimeDefault"}
    security_context["seLinuxOptions"] = {"type": "container_t"}


def test_what_the_restricted_standard_allows_passes(documents):
    allowed_by_the_restricted_standard(documents)

    assert pod_security.pods_meet_the_restricted_standard(Manifests(documents)) == []
