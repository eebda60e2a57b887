"""The network guard: media and webhook URLs may not reach loopback, private or metadata addresses.

The check happens when the socket connects, against the address actually dialled, so a DNS answer that
changes between check and use (rebinding) or a redirect to an internal host is refused too.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from framefleet.errors import FetchError
from framefleet.flags import Flag

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def address_allowed(ip: str) -> bool:
    """True for public unicast addresses only (no loopback, private, link-local, CGNAT, multicast)."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return bool(address.is_global) and not address.is_multicast


def refused_by_form(host: str, *, allow_private: bool) -> str | None:
    """Why ``host`` is refused, judged from its name alone (no DNS), or None: a metadata name,
    ``localhost``, or a literal address that is not public. ``validate`` uses it to say a URL is
    refused without fetching it; a fetch still checks the address it really dials."""
    name = host.lower().rstrip(".")
    if allow_private:
        return None
    if name in _METADATA_HOSTS:
        return f"host {host!r} is not allowed"
    private = name == "localhost" or name.endswith(".localhost")
    with contextlib.suppress(ValueError):  # a name, not an address: only a fetch can tell where it leads
        private = private or not address_allowed(name.strip("[]"))
    return f"host {host!r} resolves to a private or reserved address, which is not allowed" if private else None


def resolve(host: str, port: int, *, allow_private: bool) -> list[tuple[int, str]]:
    """The (family, ip) pairs to dial for ``host``; raises :class:`FetchError` when none may be used."""
    if host.lower().rstrip(".") in _METADATA_HOSTS and not allow_private:
        raise FetchError(f"host {host!r} is not allowed")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchError(f"host {host!r} could not be resolved") from None
    addresses: list[tuple[int, str]] = [(int(family), str(sockaddr[0])) for family, _, _, _, sockaddr in infos]
    if not allow_private:
        refused = [ip for _, ip in addresses if not address_allowed(ip)]
        if refused:
            raise FetchError(f"host {host!r} resolves to a private or reserved address, which is not allowed")
    return addresses


def _dial(host: str, port: int, timeout: float, allow_private: bool) -> socket.socket:
    last: OSError | None = None
    for family, ip in resolve(host, port, allow_private=allow_private):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"could not connect to {host}")


class GuardedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection that dials only addresses the guard allows."""

    def __init__(self, host: str, port: int | None = None, *, timeout: float, allow_private: bool) -> None:
        super().__init__(host, port, timeout=timeout)
        self.allow_private = allow_private

    def connect(self) -> None:
        self.sock = _dial(self.host, self.port, float(self.timeout or 30), self.allow_private)


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that dials only addresses the guard allows; TLS still verifies the host name."""

    def __init__(self, host: str, port: int | None = None, *, timeout: float, allow_private: bool) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.allow_private = allow_private

    def connect(self) -> None:
        raw = _dial(self.host, self.port, float(self.timeout or 30), self.allow_private)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def open_connection(url: str, *, timeout: float, allow_private: bool) -> http.client.HTTPConnection:
    """A guarded connection for ``url``'s host; raises :class:`FetchError` for anything but http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http:// and https:// URLs can be fetched")
    kind = GuardedHTTPSConnection if parts.scheme == "https" else GuardedHTTPConnection
    return kind(parts.hostname, parts.port, timeout=timeout, allow_private=allow_private)


class Watchdog:
    """Ends a request from outside when it is canceled or runs past its deadline (downloads, provider calls).

    A blocked ``recv`` cannot be interrupted from Python, and a socket time-out cannot be resumed
    (``SocketIO`` refuses to read after one), so the watchdog shuts the socket down instead: the read
    returns at once (a shut-down socket reads as a short, clean end of file), and the caller asks
    :attr:`reason` why: ``"canceled"`` or ``"deadline"``. It watches from a thread that starts at once;
    :meth:`close` ends it.
    """

    def __init__(self, seconds: float, cancel: Flag | None, *, tick: float, name: str) -> None:
        self.seconds, self.cancel = seconds, cancel
        self.deadline = time.monotonic() + seconds
        self.sock: socket.socket | None = None
        self.reason: str | None = None
        self._tick = tick
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=name, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(self._tick):
            if self.cancel is not None and self.cancel.is_set():
                self.reason = "canceled"
            elif time.monotonic() > self.deadline:
                self.reason = "deadline"
            else:
                continue
            sock = self.sock
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed: the read has ended anyway
                    sock.shutdown(socket.SHUT_RDWR)
            return

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)
