"""`app-service serve`: run the HTTP API with the settings from the environment."""

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from app_service.app import create_app
from app_service.settings import Settings
from app_service.store import StoreError, open_store

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app-service", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return _serve(_settings_or_exit())


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problem = error.errors()[0]
        where = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
        print(f"app-service: invalid setting {where}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(settings: Settings) -> int:
    logging.getLogger().setLevel(settings.log_level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    try:
        # Creates the schema at the first start; an unusable database stops here, in one line.
        open_store(settings.database_path).close()
    except StoreError as error:
        print(f"app-service: {error}", file=sys.stderr)
        return 1
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
        timeout_graceful_shutdown=5,
    )
    return 0
