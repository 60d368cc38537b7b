"""The experiment's report: a declared experiment, decided by always-valid, visitor-level tests after an SRM check.

`python -m sentiment_devtools.experiment --declaration FILE --prometheus URL`
(or `make experiment-report`) prints it and draws it as a PNG; `python -m
sentiment_devtools.experiment.figures` (`make experiment-figures`) measures the
rule by seeded simulation. docs/monitoring.md explains every figure and rule.
One module per job: declaration (the plan as YAML), planning (alpha split, tuning, planned sample), visitors (the delta
method), sequential (the mixture SPRT), guardrails, srm, decision (the rule),
report and text and chart (the report), prometheus (reading it), simulation
and figures (proving it), old_rules (what it replaced).
"""
