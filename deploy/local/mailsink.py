"""The local stack's mail sink: an SMTP server on loopback that keeps every message.

Nothing leaves the machine: each message is written as a file under the data folder's
`mail/` (`var/mail/` for `make run`), named by time and recipient, so an invitation
link can be read with any text viewer. The tests run the same sink.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")


class MailFolder:
    """aiosmtpd handler: every message accepted becomes `<folder>/<time>-<to>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    # aiosmtpd calls a hook by this name for each message.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        to = _UNSAFE.sub("_", ",".join(envelope.rcpt_tos))[:120]
        name = f"{time.time_ns()}-{to}.eml"
        content = envelope.original_content or b""
        (self.folder / f".{name}.part").write_bytes(content)
        # Renamed whole, so a reader never sees half a message.
        (self.folder / f".{name}.part").rename(self.folder / name)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        out = []
        for path in sorted(self.folder.glob("*.eml")):
            parsed: Any = message_from_bytes(path.read_bytes(), policy=policy.default)
            out.append(parsed)
        return out


@contextmanager
def mail_sink(folder: Path, port: int, host: str = "127.0.0.1") -> Iterator[MailFolder]:
    """Run the sink on host:port until the block ends."""
    handler = MailFolder(folder)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def serve_forever(folder: Path, port: int, host: str = "127.0.0.1") -> None:
    """The sink as a process of its own (what the local stack starts)."""
    with mail_sink(folder, port, host):
        while True:
            time.sleep(3600)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Keep every message sent to this SMTP port.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    serve_forever(args.folder, args.port, args.host)


if __name__ == "__main__":
    main()
