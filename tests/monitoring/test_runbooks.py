"""Every alert's runbook_url leads to its own section of docs/runbooks.md."""

import re
from pathlib import Path

from sentiment_devtools.stack.monitoring.config import rule_groups

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs/runbooks.md"
BASE = "https://github.com/sentiment-canary/sentiment-canary/blob/main/docs/runbooks.md#"


def test_every_alert_links_the_runbook_section_named_after_it(documents):
    anchors = {heading.lower() for heading in re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), re.M)}
    alerts = [rule for group in rule_groups(documents)["groups"] for rule in group["rules"] if "alert" in rule]

    links = {rule["alert"]: rule["annotations"]["runbook_url"] for rule in alerts}

    assert links == {name: BASE + name.lower() for name in links}
    assert {name.lower() for name in links} == anchors
