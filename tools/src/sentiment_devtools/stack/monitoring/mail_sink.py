"""An SMTP server on 127.0.0.1 that delivers nowhere: `python -m sentiment_devtools.stack.monitoring.mail_sink
--port N --maildir DIR`.

Every message is kept in a Maildir (read it with Python's `mailbox.Maildir`)
and announced with one line on standard output: the world never gets mail
from a local run or a test.
"""

import argparse
import email.message
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class AnnouncingMailbox(Mailbox):
    def handle_message(self, message: email.message.Message) -> None:
        super().handle_message(message)
        print(f"mail to {message['X-RcptTo']}: {message['Subject']}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    arguments = parser.parse_args()
    arguments.maildir.parent.mkdir(parents=True, exist_ok=True)
    controller = Controller(AnnouncingMailbox(arguments.maildir), hostname="127.0.0.1", port=arguments.port)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    controller.start()
    print(f"mail sink listening on 127.0.0.1:{arguments.port}, keeping mail in {arguments.maildir}", flush=True)
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
