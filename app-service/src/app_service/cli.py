"""`app-service serve`: run the HTTP API with the settings from the environment."""

import asyncio
import sys

from service_kit.serve import read_serve_command, serve
from service_kit.settings import settings_or_exit

from app_service.app import create_app
from app_service.settings import Settings
from app_service.store import StoreError, open_store


def main(argv: list[str] | None = None) -> int:
    read_serve_command("app-service", __doc__.splitlines()[0], argv)
    settings = settings_or_exit(Settings, "app-service")
    try:
        # Creates or migrates the schema; an unusable database stops here, in one line.
        asyncio.run(_open_and_close(settings))
    except StoreError as error:
        print(f"app-service: {error}", file=sys.stderr)
        return 1
    serve(create_app(settings), settings)
    return 0


async def _open_and_close(settings: Settings) -> None:
    store = await open_store(settings.database_url.get_secret_value(), settings.store_limits)
    await store.close()
