"""moto in server mode on 127.0.0.1, in a thread of this process."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

# moto accepts any credentials; these keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


@dataclass
class MotoServer:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    _server: Any = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        from salonbot_dev.local.moto_sqs import speed_up_moto_sqs

        speed_up_moto_sqs()
        # One line per request is noise next to the messages the stack prints.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        for name, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
