"""`make run`: train a model release if needed, start the services, print where to look."""

import argparse
import sys
from pathlib import Path

from localstack.model_release import ensure_release
from localstack.supervisor import Process, Supervisor

MODEL_SERVICE_PORT = 8101


def main() -> int:
    parser = argparse.ArgumentParser(prog="localstack", description=__doc__)
    parser.add_argument("--data", type=Path, help="train the model on this TSV instead of the public data")
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--state-dir", type=Path, default=Path("var"), help="where releases, caches and logs live")
    arguments = parser.parse_args()

    release = ensure_release(arguments.state_dir / "releases", arguments.model_version, arguments.data)
    supervisor = Supervisor()
    model_service = f"http://127.0.0.1:{MODEL_SERVICE_PORT}"
    supervisor.start(
        Process(
            name="model-service/stable",
            command=[sys.executable, "-m", "model_service", "serve"],
            env={
                "APP_VERSION": "stable",
                "PORT": str(MODEL_SERVICE_PORT),
                "MODEL_VERSION": release.version,
                "MODEL_SHA256": release.sha256,
                "MODEL_URL_TEMPLATE": release.url_template,
                "MODEL_CACHE_DIR": str(arguments.state_dir / "model-cache"),
            },
            ready_url=f"{model_service}/readyz",
        )
    )
    try:
        supervisor.wait_ready()
    except (RuntimeError, KeyboardInterrupt) as error:
        supervisor.stop_all()
        print(f"localstack: {error or 'interrupted'}", file=sys.stderr)
        return 1
    print(f"\n  model-service is ready: open {model_service}/docs  (Ctrl-C stops)\n", flush=True)
    return supervisor.run_until_interrupted()


if __name__ == "__main__":
    raise SystemExit(main())
