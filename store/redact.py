"""Redaction of credentials that agents paste into trajectories, applied before anything is stored.

Whatever is stored may end up in another agent's prompt, so keys never reach the bank. `redact` is the one
redaction function; store/models.py applies it (through `clean_text`) to every string of every object the
store writes, whichever path the object came by (submission, import, distillation, a client's constraints).

Each pattern has literal triggers (lowercase): a pattern runs only on text that contains one of its
triggers, so text without anything credential-shaped costs a few substring checks instead of a regex scan
per pattern (`\\b`-anchored patterns get no literal-prefix speed-up from `re`).
"""

from __future__ import annotations

import re

# (kind, triggers, pattern). A private-key block without its END line is redacted up to the next quote or the
# end of the text: base64 has no quotes, and stopping there keeps a JSON document around the key valid.
_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = [
    ("private-key", ("private key-----",), re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[^\"']*)", re.S)),
    ("anthropic-key", ("sk-ant-",), re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{16,}")),
    ("openai-key", ("sk-",), re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("aws-access-key", ("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("aws-secret", ("aws_secret_access_key",),
     re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}")),
    ("google-api-key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
    ("slack-token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("huggingface-token", ("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("stripe-key", ("_live_", "_test_"), re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("jwt", ("eyj",), re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("bearer-token", ("bearer",), re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/\-]{16,}=*")),
    ("secret-assignment", ("api", "secret", "access", "auth", "passw"), re.compile(
        r"(?i)(\b(?:api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|password|passwd)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"']{8,}")),
]


# Every trigger in one alternation: text with none of them (most text) costs one scan.
_ANY_TRIGGER = re.compile("|".join(re.escape(t) for _, triggers, _ in _PATTERNS for t in triggers))


def redact(text: str) -> str:
    """Replace every credential-shaped substring with `[REDACTED:<kind>]`."""
    if not text:
        return text
    low = text.lower()
    if not _ANY_TRIGGER.search(low):
        return text
    for kind, triggers, pattern in _PATTERNS:
        if not any(t in low for t in triggers):
            continue
        if pattern.groups:
            text = pattern.sub(lambda m, k=kind: m.group(1) + f"[REDACTED:{k}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text
