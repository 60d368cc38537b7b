"""Training and packaging of the sentiment model (the `model-service train` CLI)."""
