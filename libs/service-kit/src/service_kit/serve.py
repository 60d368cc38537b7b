"""Run a service's app with uvicorn, with the options every service runs with."""

import argparse
import gc
import logging

import uvicorn
from starlette.types import ASGIApp

from service_kit.settings import ServiceSettings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# On SIGTERM a service stops taking connections and lets the requests in flight finish; past this many
# seconds it cancels those still running (a client stalled halfway through its body, say) and exits,
# well within the pods' terminationGracePeriodSeconds.
SHUTDOWN_GRACE_SECONDS = 5


def start_logging() -> None:
    """Log lines as every service writes them, at INFO until the settings say otherwise."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def read_serve_command(prog: str, description: str, argv: list[str] | None = None) -> None:
    """The command line of a service whose one command is `serve` (`--help` says so), then start_logging()."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP server")
    parser.parse_args(argv)
    start_logging()


def serve(app: ASGIApp, settings: ServiceSettings) -> None:
    logging.getLogger().setLevel(settings.log_level.upper())
    # What lives as long as the process (its modules, the app, its routes' schemas) is moved out of the
    # collector's sight: else each full collection walks all of it, a pause every request in flight waits
    # through (~35 ms over the app-service's heap, ~80 ms over the model-service's: docs/performance.md).
    # Loading the model adds almost nothing the collector tracks. No collection first: at this point it
    # finds nothing to free, and would cost the start-up that long.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        # No service reads the client's address (the gateway rate-limits by it): uvicorn need not rewrite
        # it from X-Forwarded-For on every request.
        proxy_headers=False,
        # Longer than the mesh's idle timeout for upstream connections (30 s,
        # in the DestinationRules), so Envoy always closes an idle connection
        # first and never reuses one this server is closing (a 503 "UC").
        timeout_keep_alive=75,
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
