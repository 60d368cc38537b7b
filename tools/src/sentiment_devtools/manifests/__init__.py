"""k8s/ as every other layer reads it: rendered by kustomize (render), indexed with the questions the checks,
the mesh compiler and the local monitoring ask of it (model), and its AlertmanagerConfig as the
alertmanager.yml the prometheus-operator would generate (alertmanager)."""
