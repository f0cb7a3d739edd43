"""A small HTTP client on the standard library, for talking to servers on 127.0.0.1.

Proxies from the environment are ignored: every request goes straight to the local server under test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    params: list[tuple[str, str]] | dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> HttpResponse:
    """Sends one request and returns its status, headers and body; HTTP error statuses are returned, not raised.

    Connection failures (refused, reset) raise `OSError` (`urllib.error.URLError` is one).
    """
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            return HttpResponse(response.status, response.read(), {k.lower(): v for k, v in response.headers.items()})
    except urllib.error.HTTPError as error:
        with error:
            return HttpResponse(error.code, error.read(), {k.lower(): v for k, v in error.headers.items()})


def get(url: str, **kwargs) -> HttpResponse:
    return request("GET", url, **kwargs)


def post(url: str, body: bytes, **kwargs) -> HttpResponse:
    return request("POST", url, body=body, **kwargs)
