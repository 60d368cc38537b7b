"""No secret value is in git: every tracked file is scanned for credentials, and the example files that stand in
for the git-ignored secret files hold only obvious placeholders."""

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# Credentials whose shape gives them away, wherever they stand.
SECRET_SHAPES = {
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "a Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "a Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}\b"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "a password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<value>[^/\s:@]{3,})@"),
}
# A value given to a name that says secret: `API_KEY = "..."`, `password: ...`, `SMTP_PASSWORD=...`.
ASSIGNED_SECRET = re.compile(
    r"""(?ix) (?:password|passwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key)\w* ["']? \s* [:=] \s*
        (?: "(?P<double>[^"\n]*)" | '(?P<single>[^'\n]*)' | (?P<bare>[^\s"',;)]+)(?:\s+\#.*)?$ )""",
    re.MULTILINE,
)
# What a placeholder, a test fixture or a reference to a secret kept elsewhere looks like.
PLACEHOLDER = re.compile(
    r"(?i)change-?me|example|placeholder|dummy|fake|test|integration|sample|redacted|your[-_]|<[^>]*>|x{4,}|\*{3,}"
    r"|^\$|\$\{|\$\(|\{\{|^(?:true|false|none|null)$"
)


def is_real_looking(value: str) -> bool:
    """Long and random enough to be a real credential (letters and digits, as generated keys and passwords have;
    an identifier like `auth_password` has none), and no placeholder."""
    if len(value) < 12 or PLACEHOLDER.search(value) or not (re.search(r"\d", value) and re.search(r"[A-Za-z]", value)):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.0


def secrets_in(text: str) -> list[str]:
    """What in `text` looks like a secret, each named with what gave it away."""
    found = [
        f"{name}: {match.group()[:24]}..."
        for name, shape in SECRET_SHAPES.items()
        for match in shape.finditer(text)
        if "value" not in shape.groupindex or is_real_looking(match["value"])
    ]
    for match in ASSIGNED_SECRET.finditer(text):
        value = match["double"] or match["single"] or match["bare"] or ""
        if is_real_looking(value):
            found.append(f"a secret assigned: {match.group().strip()[:40]}...")
    return found


def tracked_files() -> list[Path]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name and (ROOT / name).is_file()]


def test_no_tracked_file_holds_a_secret():
    files = tracked_files()
    problems = [
        f"{path.relative_to(ROOT)}: {secret}"
        for path in files
        if b"\0" not in (data := path.read_bytes())
        for secret in secrets_in(data.decode(errors="replace"))
    ]

    assert len(files) > 100
    assert problems == []


def test_every_example_file_holds_only_placeholders_and_its_real_file_is_ignored():
    examples = [path for path in tracked_files() if path.name.endswith(".example")]
    assert examples, "the secret settings' example files are gone"

    for example in examples:
        for line in example.read_text().splitlines():
            key, _, value = line.lstrip("# ").partition("=")
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
                continue  # prose
            if re.search(r"KEY|PASSWORD|SECRET|TOKEN", key):
                assert value == "" or PLACEHOLDER.search(value), f"{example.name}: {key} holds {value!r}"
            assert not secrets_in(line), f"{example.name}: {line}"
        real_file = example.with_suffix("").relative_to(ROOT)
        assert subprocess.run(["git", "check-ignore", "-q", str(real_file)], cwd=ROOT, check=False).returncode == 0


# Built here, so that no such value stands in this file for the scan to find.
KEY_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"
AWS_KEY = "AKIA" + "Q3EGRIPNSSHAZTUG"
GITHUB_TOKEN = "ghp_" + "9fXk2LmQ7rTz4WvB8nYc1HdJ5sEaUo3PiKgR"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiJ1c2VyLTQyIn0." + "qL8vN2xR5tY7wZ1cB4dF6gH9jK3mP0sT"


def planted(name: str, value: str, quote: str = "") -> str:
    """`NAME=value` as a settings file would hold it."""
    return f"{name}={quote}{value}{quote}"


@pytest.mark.parametrize(
    "text",
    [
        KEY_HEADER,
        f"aws_access_key_id = {AWS_KEY}",
        f"GH_TOKEN: {GITHUB_TOKEN}",
        f"Authorization: Bearer {JWT}",
        planted("EXPORT_API_KEY", "k3J9x-Qw7Lm2Vt8RzP4n", quote='"'),
        planted("SMTP_PASSWORD", "Vb7#qL2m!xR9tK4w"),
        planted("EXPORT_API_KEY", "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012345  # openssl rand -hex 20"),
        planted("DATABASE_URL", "postgresql://app:" + "S3cr3tVa1ue9Zq@db/reviews"),
    ],
)
def test_the_scan_finds_real_looking_secrets(text):
    assert secrets_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "EXPORT_API_KEY=change-me-to-a-long-random-key",
        "SMTP_PASSWORD=",
        'EXPORT_KEY = "integration-export-key-0123456789"',
        "GH_TOKEN: ${{ github.token }}",
        'export_api_key: SecretStr = Field(SecretStr(""), description="Key for the export")',
        "automountServiceAccountToken: false",
        "DATABASE_URL=sqlite:////var/lib/app-service/reviews.db",
        "authPassword: {name: sentiment-secrets, key: SMTP_PASSWORD}",
    ],
)
def test_the_scan_leaves_placeholders_and_references_alone(text):
    assert secrets_in(text) == []
