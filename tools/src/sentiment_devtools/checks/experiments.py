"""The experiments of k8s/experiments/ agree with what runs: each declaration is valid and planned exactly as its
plan computes, and the running one's split is the frontend VirtualService's canary weight and the SRM alert's
declared share, and is the experiment every arm's app-service names (EXPERIMENT_ID)."""

import re

from sentiment_devtools.experiment.declaration import (
    EXPERIMENTS,
    RUNNING,
    Declaration,
    DeclarationError,
    declared,
    parse,
)
from sentiment_devtools.manifests.model import Manifests, ref

# The frontend VirtualService, whose canary weight is the share of new visitors the canary gets.
SPLIT = "app-frontend"
# The recording rule the ExperimentSampleRatioMismatch alert reads the declared share from: vector(<share>).
DECLARED_SHARE = "experiment:experiment_assignments_canary:share_declared"


def declarations_are_planned(m: Manifests) -> list[str]:
    """Each declaration parses, is keyed by its id, and plans exactly the sample its plan computes; `running` names
    one of them or none."""
    problems = [] if _config_maps(m) else [f"no ConfigMap/{EXPERIMENTS} declares the experiments (k8s/experiments/)"]
    for config_map in _config_maps(m):
        texts = declared(config_map)
        for key, text in texts.items():
            try:
                declaration = parse(text, f"{ref(config_map)} {key}.yaml")
            except DeclarationError as error:
                problems.append(str(error))
                continue
            if declaration.id != key:
                problems.append(f"{ref(config_map)}: {key}.yaml declares the id {declaration.id!r}, not {key!r}")
            if declaration.planned_reviews != declaration.required_reviews:
                problems.append(
                    f"{ref(config_map)}: {key}.yaml plans {declaration.planned_reviews} reviews, and its plan "
                    f"(baseline, minimal effect, split, design effect, alpha, power) computes "
                    f"{declaration.required_reviews}: re-plan it before the start, never after"
                )
        name = config_map.get("data", {}).get(RUNNING)
        if name is None or (name and name not in texts):
            problems.append(f"{ref(config_map)}: {RUNNING}={name!r} names no declaration (declared: {sorted(texts)})")
    return problems


def the_split_is_the_declared_one(m: Manifests) -> list[str]:
    """The running declaration's canary share is the frontend VirtualService's canary weight, and the share the
    SRM alert tests the assignments against."""
    declaration = _running(m)
    if declaration is None:
        return []
    problems = []
    share = declaration.split.canary
    try:
        weight = m.split(SPLIT).get("canary", 0)
    except (LookupError, StopIteration) as error:
        return [f"{declaration.id}: the split cannot be read from VirtualService/{SPLIT}: {error}"]
    if weight / 100 != share:
        problems.append(
            f"{declaration.id}: the declared split gives the canary {share:g} of new visitors, and "
            f"VirtualService/{SPLIT} weighs it {weight} of 100: change the weight and the declaration together"
        )
    rules = [
        (rule_set, rule)
        for rule_set in m.of_kind("PrometheusRule")
        for group in rule_set["spec"].get("groups", [])
        for rule in group.get("rules", [])
        if rule.get("record") == DECLARED_SHARE
    ]
    if not rules:
        problems.append(f"{declaration.id}: no PrometheusRule records {DECLARED_SHARE}, the SRM alert's share")
    for rule_set, rule in rules:
        found = re.fullmatch(r"\s*vector\(\s*([0-9.]+)\s*\)\s*", str(rule["expr"]))
        if found is None or float(found.group(1)) != share:
            problems.append(
                f"{ref(rule_set)}: {DECLARED_SHARE} is {str(rule['expr']).strip()!r}, and {declaration.id} declares "
                f"a canary share of {share:g}: the SRM alert would test the split against another one"
            )
    return problems


def the_arms_run_the_declared_experiment(m: Manifests) -> list[str]:
    """Every app-service pod's EXPERIMENT_ID is the running experiment's id (empty when none runs)."""
    config_maps = _config_maps(m)
    if len(config_maps) != 1:
        return []
    name = config_maps[0].get("data", {}).get(RUNNING, "")
    problems = []
    for workload in m.app_workloads(("app-service",)):
        for container in workload.containers:
            found = m.environment(workload, container).get("EXPERIMENT_ID", "")
            if found != name:
                problems.append(
                    f"{workload.ref}: EXPERIMENT_ID is {found!r}, and ConfigMap/{EXPERIMENTS} says {name!r} runs: "
                    "its reviews would be stored for another experiment"
                )
    return problems


def _config_maps(m: Manifests) -> list[dict]:
    return [d for d in m.of_kind("ConfigMap") if d["metadata"]["name"] == EXPERIMENTS]


def _running(m: Manifests) -> Declaration | None:
    """The running declaration, when there is exactly one valid one (declarations_are_planned reports the rest)."""
    config_maps = _config_maps(m)
    if len(config_maps) != 1:
        return None
    texts = declared(config_maps[0])
    name = config_maps[0].get("data", {}).get(RUNNING, "")
    try:
        return parse(texts[name], name) if name in texts else None
    except DeclarationError:
        return None
