"""Builds the services' images here, with podman and no Docker engine nor registry: `make images`.

The Dockerfiles build unchanged. What they start FROM, the official
python:3.11-slim-bookworm image, cannot be pulled on these machines, so
`base_image` makes a stand-in once (Debian bookworm with Debian's Python 3.11)
and tags it under that name.
"""
