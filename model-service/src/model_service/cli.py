"""`model-service`: serve the model, get it into the cache, or train a release.

model-service serve                      run the HTTP API (settings from the environment)
model-service prepare                    get the model the settings name into the cache, then exit:
                                         download and verify the release (MODEL_SOURCE=release), or
                                         train it there unless it is there (MODEL_SOURCE=trained)
model-service train --version v1.0.0     train, evaluate and write releases/v1.0.0/
"""

import argparse
import logging
import re
import sys
from pathlib import Path

from service_kit.serve import serve, start_logging
from service_kit.settings import settings_or_exit

from model_service.app import create_app
from model_service.manifest import VERSION_PATTERN
from model_service.model_store import ModelFetchError, ModelStore
from model_service.settings import Settings
from model_service.training.dataset import DEFAULT_DATA_SHA256, DEFAULT_DATA_URL


class TrainingFailed(Exception):
    """The training data or the release folder is not usable; the message is one line."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="model-service", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    _add_training_arguments(
        commands.add_parser(
            "prepare",
            help="get the model the settings name into the cache (download the release, or train it once), then exit",
            description="MODEL_SOURCE=release: download and verify the pinned release into the cache. "
            "MODEL_SOURCE=trained: train MODEL_VERSION into the cache's trained/ folder unless it is there; "
            "processes sharing the volume train it once. The training options apply to the latter.",
        )
    )
    train = commands.add_parser("train", help="train, evaluate and package a model release")
    train.add_argument("--version", required=True, help="release version, e.g. v1.0.0")
    train.add_argument("--out", type=Path, default=Path("releases"), help="releases folder (default: releases)")
    train.add_argument("--replace", action="store_true", help="overwrite an existing local release folder")
    _add_training_arguments(train)
    arguments = parser.parse_args(argv)
    start_logging()
    if arguments.command == "train":
        return _train(arguments)
    settings = settings_or_exit(Settings, "model-service")
    if arguments.command == "prepare":
        return _prepare(settings, arguments)
    serve(create_app(settings), settings)
    return 0


def _prepare(settings: Settings, arguments: argparse.Namespace) -> int:
    if settings.model_source == "release":
        return _fetch(settings)
    # Imported here: MODEL_SOURCE=release needs none of the training stack.
    from model_service.training.in_place import train_once

    version = settings.model_version
    try:
        verified, trained = train_once(
            settings.trained_dir,
            version,
            settings.pinned_sha256,
            lambda: _train_release(arguments, version, settings.trained_dir, replace=False),
        )
    except (ModelFetchError, TrainingFailed) as error:
        print(f"model-service: {error}", file=sys.stderr)
        return 1
    print(f"{verified.path} sha256 {verified.manifest.sha256} ({'trained' if trained else 'already trained'})")
    return 0


def _fetch(settings: Settings) -> int:
    store = ModelStore.from_settings(settings)
    try:
        verified = store.fetch(settings.model_version, settings.pinned_sha256)
    except ModelFetchError as error:
        print(f"model-service: {error}", file=sys.stderr)
        return 1
    print(f"{verified.path} sha256 {verified.manifest.sha256}")
    return 0


def _add_training_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", default=DEFAULT_DATA_URL, help="TSV path or http(s) URL (default: the public data)")
    source.add_argument("--demo", action="store_true", help="train on the built-in synthetic demo corpus")
    parser.add_argument("--data-sha256", help="pin for --data (required for a URL; the public data is pinned)")
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


def _train(arguments: argparse.Namespace) -> int:
    if not re.fullmatch(VERSION_PATTERN, arguments.version):
        print(f"model-service: --version {arguments.version!r} must match {VERSION_PATTERN}", file=sys.stderr)
        return 2
    try:
        _train_release(arguments, arguments.version, arguments.out, replace=arguments.replace)
    except TrainingFailed as error:
        print(f"model-service: {error}", file=sys.stderr)
        return 1
    return 0


def _train_release(arguments: argparse.Namespace, version: str, out: Path, *, replace: bool) -> None:
    """Train on the data the arguments name, evaluate, and write the release `<out>/<version>/`."""
    # Imported here: `serve` starts faster without the training stack (model_selection, the lexicon).
    from model_service.training.dataset import DatasetError, load_dataset
    from model_service.training.demo_data import demo_dataset
    from model_service.training.evaluate import CrossValidationPlan, cross_validate, fit, select_c
    from model_service.training.lexicon import load_lexicon
    from model_service.training.release import ReleaseError, write_release

    log = logging.getLogger("model_service.train")
    if arguments.demo:
        dataset = demo_dataset()
        log.warning("*** DEMO MODEL: trained on a tiny synthetic corpus, not on real reviews ***")
    else:
        pin = arguments.data_sha256 or (DEFAULT_DATA_SHA256 if arguments.data == DEFAULT_DATA_URL else None)
        try:
            dataset = load_dataset(arguments.data, pin)
        except DatasetError as error:
            raise TrainingFailed(str(error)) from None
    plan = CrossValidationPlan(arguments.folds, arguments.inner_folds, arguments.seed, arguments.jobs)
    lexicon = load_lexicon(arguments.lexicon_min_valence)
    log.info(
        "training %s on %d reviews (%s, sha256 %s) + %d lexicon words",
        version, len(dataset.reviews), dataset.source, dataset.sha256, len(lexicon.words),
    )  # fmt: skip
    evaluation = cross_validate(dataset.reviews, dataset.labels, lexicon, plan)
    c = select_c(dataset.reviews, dataset.labels, lexicon, plan)
    model = fit(dataset.reviews, dataset.labels, lexicon, c)
    try:
        manifest = write_release(model, out, version, dataset, lexicon, evaluation, c, replace=replace)
    except ReleaseError as error:
        raise TrainingFailed(str(error)) from None
    print(f"accuracy {evaluation.accuracy_mean:.4f} ± {evaluation.accuracy_std:.4f} ({evaluation.protocol})")
    print(f"release {out / version} sha256 {manifest.sha256} (C={c:g})")
