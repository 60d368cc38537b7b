"""`app-frontend serve`: serve the page with the settings from the environment."""

from service_kit.serve import read_serve_command, serve
from service_kit.settings import settings_or_exit

from app_frontend.app import create_app
from app_frontend.settings import Settings


def main(argv: list[str] | None = None) -> int:
    read_serve_command("app-frontend", __doc__.splitlines()[0], argv)
    settings = settings_or_exit(Settings, "app-frontend")
    serve(create_app(settings), settings)
    return 0
