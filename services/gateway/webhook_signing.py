"""Webhook secrets and signatures, after the Standard Webhooks specification.

The signature is the library's (`standardwebhooks`), so a receiver verifies with the
same code in any language. While a rotated secret is still honoured, each delivery
carries one signature per secret, space-separated, as the specification allows.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the specification's marker, not a secret)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(keys: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    return " ".join(Webhook(k).sign(msg_id, timestamp, body) for k in keys)
