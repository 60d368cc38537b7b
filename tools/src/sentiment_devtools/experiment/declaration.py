"""An experiment, declared before it starts: what it tests, how it decides, the sample it needs.

A small YAML document, one per experiment in k8s/experiments/ (deployed as the
ConfigMap `experiments`, whose `running` names the one the arms run), validated
on load: a declaration whose planned sample is smaller than its own plan
requires is refused, so the report never decides on an underpowered plan, and
it never guesses the baseline from the data it is deciding on. Below the checks
in the tools' layers: `make k8s-check` holds k8s/ to the declarations.
"""

import enum
from pathlib import Path

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sentiment_devtools.experiment import planning
from sentiment_devtools.manifests.render import RenderError, render

# The ConfigMap of k8s/experiments/: a key <id>.yaml per declaration, and RUNNING naming the one the arms run.
EXPERIMENTS = "experiments"
RUNNING = "running"


class Direction(enum.StrEnum):
    HIGHER = "higher"
    LOWER = "lower"

    @property
    def sign(self) -> int:
        """+1 when a positive canary-minus-stable difference is better."""
        return 1 if self is Direction.HIGHER else -1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Primary(Strict):
    metric: str = Field(pattern="^correction_rate$")  # corrections / reviews: the one primary metric the report reads
    direction: Direction
    why: str = Field(min_length=1)  # why that direction is better: a declaration states it
    minimal_effect: float = Field(gt=0, lt=1)  # relative to the baseline: 0.10 is a change of 10% of the rate


class Margin(Strict):
    """A guardrail: the canary may be worse than the stable by less than `margin` (a difference of proportions)."""

    margin: float = Field(gt=0, lt=1)


class Guardrails(Strict):
    # predictions slower than the stable's p95 bucket bound: the canary's share minus the stable's
    prediction_latency: Margin
    # 5xx answers of the app-service's served requests: the canary's ratio minus the stable's
    error_ratio: Margin

    def items(self) -> tuple[tuple[str, Margin], ...]:
        return (("prediction_latency", self.prediction_latency), ("error_ratio", self.error_ratio))


class Split(Strict):
    canary: float = Field(gt=0, lt=1)  # the canary's share of new visitors (the VirtualService weight / 100)


class Baseline(Strict):
    """The stable's figures measured before the start, on which the sample is planned."""

    correction_rate: float = Field(gt=0, lt=1)
    reviews_per_visitor: float = Field(ge=1)
    design_effect: float = Field(ge=1)  # the visitor-level variance over the per-review one (visitors.py)


class Declaration(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    hypothesis: str = Field(min_length=1)
    start: AwareDatetime  # the analysis window starts here
    split: Split
    primary: Primary
    guardrails: Guardrails
    baseline: Baseline
    alpha: float = Field(gt=0, lt=0.5)
    power: float = Field(gt=0.5, lt=1)
    planned_reviews: int = Field(gt=0)  # both arms together, at least `required_reviews`

    @property
    def effect(self) -> float:
        """The minimal effect as a signed difference of correction rates, canary minus stable."""
        return self.primary.direction.sign * self.primary.minimal_effect * self.baseline.correction_rate

    @property
    def levels(self) -> planning.Levels:
        return planning.levels(self.alpha, len(self.guardrails.items()))

    @property
    def required_reviews(self) -> int:
        return planning.planned_reviews(
            self.baseline.correction_rate,
            self.effect,
            self.split.canary,
            self.baseline.design_effect,
            self.levels.primary,
            self.power,
        )

    @property
    def planned_reviews_per_arm(self) -> dict[str, int]:
        canary = round(self.planned_reviews * self.split.canary)
        return {"stable": self.planned_reviews - canary, "canary": canary}

    @property
    def primary_mixing_variance(self) -> float:
        return planning.mixing_variance(self.effect, self.levels.primary, self.power)

    def guardrail_mixing_variance(self, margin: float) -> float:
        """Tuned, like the primary's, for the look at which a guardrail at zero is shown within its margin."""
        return planning.mixing_variance(margin, 2 * self.levels.non_inferiority, self.power)

    @model_validator(mode="after")
    def _plan_is_large_enough(self) -> "Declaration":
        if self.planned_reviews < self.required_reviews:
            raise ValueError(
                f"planned_reviews {self.planned_reviews} is below the {self.required_reviews} reviews the plan "
                f"needs for power {self.power} (baseline, minimal effect, split and design effect as declared)"
            )
        return self


class DeclarationError(Exception):
    pass


def parse(text: str, source: str) -> Declaration:
    try:
        return Declaration.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValueError) as error:
        raise DeclarationError(f"{source}: {error}") from error


def load(path: Path) -> Declaration:
    try:
        text = path.read_text()
    except OSError as error:
        raise DeclarationError(f"{path}: {error}") from error
    return parse(text, str(path))


def declared(config_map: dict) -> dict[str, str]:
    """The `experiments` ConfigMap's declarations as written, by the id their key names (<id>.yaml)."""
    data = config_map.get("data", {})
    return {key.removesuffix(".yaml"): text for key, text in data.items() if key.endswith(".yaml")}


def running_id(k8s_dir: Path) -> str:
    """The id of the experiment k8s/experiments/ says runs; "" when none does."""
    return _config_map(k8s_dir / EXPERIMENTS)["data"].get(RUNNING, "")


def running(k8s_dir: Path) -> Declaration:
    """The declaration of the experiment k8s/experiments/ says runs, as kustomize deploys it."""
    folder = k8s_dir / EXPERIMENTS
    config_map = _config_map(folder)
    name = config_map["data"].get(RUNNING, "")
    texts = declared(config_map)
    if name not in texts:
        raise DeclarationError(f"{folder}: {RUNNING}={name!r} names no declaration (declared: {sorted(texts)})")
    return parse(texts[name], f"{folder}/{name}.yaml")


def _config_map(folder: Path) -> dict:
    try:
        documents = render(folder)
    except RenderError as error:
        raise DeclarationError(f"{folder}: {error}") from error
    [config_map] = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == EXPERIMENTS]
    return config_map
