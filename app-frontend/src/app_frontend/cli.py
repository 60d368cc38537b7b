"""`app-frontend serve`: serve the page with the settings from the environment."""

import argparse

from service_kit.serve import serve, start_logging
from service_kit.settings import settings_or_exit

from app_frontend.app import create_app
from app_frontend.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app-frontend", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the page")
    parser.parse_args(argv)
    start_logging()
    settings = settings_or_exit(Settings, "app-frontend")
    serve(create_app(settings), settings)
    return 0
