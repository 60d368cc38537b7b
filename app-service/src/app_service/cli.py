"""`app-service serve`: run the HTTP API with the settings from the environment."""

import argparse
import logging
import sys

from service_kit.serve import serve, start_logging
from service_kit.settings import settings_or_exit

from app_service.app import create_app
from app_service.settings import Settings
from app_service.store import StoreError, open_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app-service", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    parser.parse_args(argv)
    start_logging()
    settings = settings_or_exit(Settings, "app-service")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    try:
        # Creates the schema at the first start; an unusable database stops here, in one line.
        open_store(settings.database_path).close()
    except StoreError as error:
        print(f"app-service: {error}", file=sys.stderr)
        return 1
    serve(create_app(settings), settings)
    return 0
