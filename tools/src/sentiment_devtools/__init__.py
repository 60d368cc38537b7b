"""The monorepo's tooling, in layers; each imports only from the layers below it (tests/test_tools_layers.py).

experiment   the declared experiment decided from Prometheus (`make experiment-report`)
images       the services' images built with podman (`make images`)
lockfiles    each image's pinned packages (`make locks`)
stack        the whole system as local processes behind Envoy (`make run`): the process
             supervisor at its bottom, then the monitoring servers, then the stack itself
checks       k8s/ checked offline: schemas, the resources against each other and the
             services' contract, Pod Security, promtool and amtool (`make k8s-check`)
experiment.declaration, experiment.planning
             an experiment's declaration and its plan, which the checks hold k8s/ to
mesh         k8s/'s Istio routing compiled into Envoy's configuration
manifests    k8s/ rendered by kustomize, and the model every layer above reads it through
system       the services, arms, hosts and ports, defined once
"""
