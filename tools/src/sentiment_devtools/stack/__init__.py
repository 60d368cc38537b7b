"""Runs the whole system on this machine as real processes on 127.0.0.1 (`make run`, the tests, `make bench`).

Its own layers, each importing only those before it: supervisor (starts, watches and stops processes),
model_release (a model release to serve), monitoring (Prometheus, Alertmanager and a mail sink), then
instances, envoy and stack (the services behind Envoy compiled from k8s/), compose_mesh and __main__.
"""
