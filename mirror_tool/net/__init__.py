"""The one HTTP layer (issue 16): settings, a client on libcurl, and the errors it raises.

    settings = HttpSettings.build(master, proxy=config_proxy, ca_bundle=..., download_hosts=(...))
    client = Client(settings, stop)
    page = client.get(url, headers={"Accept": "application/json"}, cap=settings.caps.project)
    client.download(file_url, sink, expected_size=size, verify=check)     # sink: write/restart
    client.download_many([DownloadJob(...), ...])                          # N at once, one pool
    client.request("PURGE", url, headers={...})                            # any method

docs/http-library.md says why libcurl, what each setting means and the connection caps.
"""

from mirror_tool.net.client import POLL, Client, Downloaded, DownloadJob, Response, retry_after
from mirror_tool.net.errors import (
    BodyTooLarge,
    DeadlineExceeded,
    ForeignHost,
    HTTPStatusError,
    NetError,
    ProxyError,
    RateLimited,
    Stopped,
    TLSError,
    TransportError,
    feed_error,
)
from mirror_tool.net.settings import Caps, HttpSettings, RetryPolicy, settings_from_config
from mirror_tool.net.sinks import BufferSink, HashingSink, Sink

__all__ = [
    "Client", "Downloaded", "DownloadJob", "Response", "retry_after", "POLL",
    "HttpSettings", "Caps", "RetryPolicy", "settings_from_config", "Sink", "BufferSink", "HashingSink",
    "Stopped", "NetError", "TransportError", "HTTPStatusError", "RateLimited", "TLSError", "ProxyError",
    "DeadlineExceeded", "BodyTooLarge", "ForeignHost", "feed_error",
]
