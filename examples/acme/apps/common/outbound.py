"""Outbound HTTP to third-party APIs, guarded against SSRF and DNS rebinding.

Today every URL we call comes from settings, but webhook targets and a customer's own mail
relay will come from users, so every outbound call goes through here:

1. the host name is resolved once, here;
2. every address it resolves to must be globally routable: no private, loopback, link-local,
   shared (CGNAT) or reserved range, so a DNS record someone else controls cannot point us at
   the metadata service, the database or the admin network;
3. the request goes to the address we checked (no second lookup that could answer otherwise),
   with the name in the Host header and, for https, in TLS SNI and certificate verification;
4. no redirects are followed and no proxy from the environment is used.
"""

import dataclasses
import ipaddress
import logging
import socket
import urllib.parse

import requests
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_TIMEOUT = (5, 15)  # connect, read (seconds)


class OutboundBlocked(Exception):
    """We may not call this destination (scheme, credentials in the URL, a non-public address)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a URL really goes: its name, port and the one address we checked."""

    scheme: str
    hostname: str
    port: int
    address: str

    @property
    def host_header(self):
        if self.port == DEFAULT_PORTS[self.scheme]:
            return self.hostname
        return f"{self.hostname}:{self.port}"


def resolve(url, schemes=("https",)):
    """Check ``url`` and resolve its host to one public address (raises OutboundBlocked)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in schemes:
        raise OutboundBlocked(f"scheme {parts.scheme!r} is not allowed")
    if not parts.hostname:
        raise OutboundBlocked("the URL has no host")
    if parts.username or parts.password:
        raise OutboundBlocked("credentials in the URL are not allowed")
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        # A lookup that fails is a network problem, not a policy one: callers may retry.
        raise requests.ConnectionError(f"cannot resolve {parts.hostname}: {exc}") from exc
    addresses = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise OutboundBlocked(f"{parts.hostname} resolves to {address}, which is not public")
        addresses.append(str(address))
    if not addresses:
        raise requests.ConnectionError(f"{parts.hostname} has no address")
    return Target(parts.scheme, parts.hostname.lower(), port, addresses[0])


class PinnedAdapter(HTTPAdapter):
    """Sends to the address :func:`resolve` checked, under the name it was resolved from."""

    def __init__(self, target, **kwargs):
        self.target = target
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        # TLS: SNI and the certificate check use the name, not the address we connect to.
        kwargs["server_hostname"] = self.target.hostname
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        parts = urllib.parse.urlsplit(request.url)
        if (parts.hostname or "").lower() != self.target.hostname:
            raise OutboundBlocked(f"a request for {parts.hostname} on the adapter of another host")
        address = self.target.address
        netloc = f"[{address}]" if ":" in address else address
        request.url = urllib.parse.urlunsplit(parts._replace(netloc=f"{netloc}:{self.target.port}"))
        request.headers["Host"] = self.target.host_header
        return super().send(request, **kwargs)


def request(method, url, *, timeout=DEFAULT_TIMEOUT, schemes=("https",), **kwargs):
    """``requests.request`` for third-party APIs: checked, pinned, no redirects, no env proxy."""
    target = resolve(url, schemes)
    with requests.Session() as session:
        session.trust_env = False
        session.mount(f"{target.scheme}://", PinnedAdapter(target))
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    logger.debug("%s %s via %s: %s", method, url, target.address, response.status_code)
    return response
