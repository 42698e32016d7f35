"""The real UnleashClient SDK pointed at a live Liftoff, and a polling helper for its answers."""

from __future__ import annotations

import contextlib
import time
import uuid

from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType


class StatusLog:
    """Wraps an app to note each (path, status) it answers: the SDK keeps status codes to itself."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.seen: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        def noting(status, headers, exc_info=None):
            self.seen.append((environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, noting)

    def polls(self, since: int = 0) -> list[int]:
        """The statuses of flag fetches, from the ``since``-th answer on."""
        return [s for p, s in self.seen[since:] if p == "/api/client/features"]


@contextlib.contextmanager
def sdk(live_server, token: str, tmp_path, **options):
    """An SDK polling the live app every second, with its own cache directory (clients sharing one
    would share flags whatever their token). ``options`` override the constructor's defaults."""
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    settings = {
        "url": f"{live_server.url}/api",
        "app_name": name,
        "instance_id": f"{name}-1",
        "refresh_interval": 1,
        "metrics_interval": 1,
        "custom_headers": {"Authorization": token},
        "cache_directory": str(tmp_path / name),
        "multiple_instance_mode": InstanceAllowType.SILENTLY_ALLOW,
    }
    client = UnleashClient(**(settings | options))
    try:
        client.initialize_client()
        yield client
    finally:
        client.destroy()


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; the last answer decides."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
