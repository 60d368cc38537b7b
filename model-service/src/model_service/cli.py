"""`model-service`: serve the model, fetch it into the cache, or train a release.

model-service serve                      run the HTTP API (settings from the environment)
model-service fetch                      download and verify the pinned model into the cache
model-service train --version v1.0.0     train, evaluate and write releases/v1.0.0/
"""

import argparse
import logging
import re
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from model_service.app import create_app
from model_service.manifest import VERSION_PATTERN
from model_service.model_store import ModelFetchError, ModelStore
from model_service.settings import Settings
from model_service.training.dataset import DEFAULT_DATA_SHA256, DEFAULT_DATA_URL

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="model-service", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    commands.add_parser("fetch", help="download and verify the pinned model into the cache")
    _add_train_arguments(commands.add_parser("train", help="train, evaluate and package a model release"))
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if arguments.command == "train":
        return _train(arguments)
    settings = _settings_or_exit()
    if arguments.command == "fetch":
        return _fetch(settings)
    return _serve(settings)


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problem = error.errors()[0]
        where = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
        print(f"model-service: invalid setting {where}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(settings: Settings) -> int:
    logging.getLogger().setLevel(settings.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        # Longer than the mesh's idle timeout for upstream connections (30 s,
        # in the DestinationRules), so Envoy always closes an idle connection
        # first and never reuses one this server is closing (a 503 "UC").
        timeout_keep_alive=75,
        log_config=None,
    )
    return 0


def _fetch(settings: Settings) -> int:
    store = ModelStore.from_settings(settings)
    try:
        verified = store.fetch(settings.model_version, settings.model_sha256 or None)
    except ModelFetchError as error:
        print(f"model-service: {error}", file=sys.stderr)
        return 1
    print(f"{verified.path} sha256 {verified.manifest.sha256}")
    return 0


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", default=DEFAULT_DATA_URL, help="TSV path or http(s) URL (default: the public data)")
    source.add_argument("--demo", action="store_true", help="train on the built-in synthetic demo corpus")
    parser.add_argument("--data-sha256", help="pin for --data (required for a URL; the public data is pinned)")
    parser.add_argument("--version", required=True, help="release version, e.g. v1.0.0")
    parser.add_argument("--out", type=Path, default=Path("releases"), help="releases folder (default: releases)")
    parser.add_argument("--folds", type=int, default=10, help="outer cross-validation folds (default: 10)")
    parser.add_argument("--inner-folds", type=int, default=5, help="folds of the inner CV that picks C (default: 5)")
    parser.add_argument("--seed", type=int, default=42, help="shuffling seed of the folds (default: 42)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (default: 2)")
    parser.add_argument(
        "--lexicon-min-valence",
        type=float,
        default=1.0,
        help="add VADER lexicon words at least this polar (default: 1.0)",
    )
    parser.add_argument("--replace", action="store_true", help="overwrite an existing local release folder")


def _train(arguments: argparse.Namespace) -> int:
    # Imported here: `serve` starts faster without the training stack (model_selection, the lexicon).
    from model_service.training.dataset import DatasetError, load_dataset
    from model_service.training.demo_data import demo_dataset
    from model_service.training.evaluate import CrossValidationPlan, cross_validate, fit, select_c
    from model_service.training.lexicon import load_lexicon
    from model_service.training.release import ReleaseError, write_release

    if not re.fullmatch(VERSION_PATTERN, arguments.version):
        print(f"model-service: --version {arguments.version!r} must match {VERSION_PATTERN}", file=sys.stderr)
        return 2
    log = logging.getLogger("model_service.train")
    if arguments.demo:
        dataset = demo_dataset()
        log.warning("*** DEMO MODEL: trained on a tiny synthetic corpus, not on real reviews ***")
    else:
        pin = arguments.data_sha256 or (DEFAULT_DATA_SHA256 if arguments.data == DEFAULT_DATA_URL else None)
        try:
            dataset = load_dataset(arguments.data, pin)
        except DatasetError as error:
            print(f"model-service: {error}", file=sys.stderr)
            return 1
    plan = CrossValidationPlan(arguments.folds, arguments.inner_folds, arguments.seed, arguments.jobs)
    lexicon = load_lexicon(arguments.lexicon_min_valence)
    log.info(
        "training on %d reviews (%s, sha256 %s) + %d lexicon words",
        len(dataset.reviews), dataset.source, dataset.sha256, len(lexicon.words),
    )  # fmt: skip
    evaluation = cross_validate(dataset.reviews, dataset.labels, lexicon, plan)
    c = select_c(dataset.reviews, dataset.labels, lexicon, plan)
    model = fit(dataset.reviews, dataset.labels, lexicon, c)
    try:
        manifest = write_release(model, arguments.out, arguments.version, dataset, lexicon, evaluation, c,
                                 replace=arguments.replace)  # fmt: skip
    except ReleaseError as error:
        print(f"model-service: {error}", file=sys.stderr)
        return 1
    print(f"accuracy {evaluation.accuracy_mean:.4f} ± {evaluation.accuracy_std:.4f} ({evaluation.protocol})")
    print(f"release {arguments.out / arguments.version} sha256 {manifest.sha256} (C={c:g})")
    return 0
