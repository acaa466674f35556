"""The one way the server fetches a media address someone gave it (a post's media, an event's image).

Files the app stored itself (uploads under MEDIA_URL) are read from storage, never over HTTP.
Every other address is fetched through requests-hardened: the host is resolved once, the
connection is pinned to that address, and loopback, private, link-local, multicast, reserved
and unspecified addresses (IPv4 and IPv6, IPv4-mapped included) are refused before any
connection is made. Redirects are followed here, one hop at a time, each hop checked again.
Size, time and type are enforced while the answer streams in.

FETCH_ALLOWED_HOSTS (empty in production) names the few hosts that may be reached anyway,
e.g. the bundled platform simulator on 127.0.0.1 for `make run` and the tests. An entry is
``host``, ``host:port``, an IP address or a network (``10.1.0.0/16``); networks and addresses
match only URLs written with an IP address, so a DNS answer can never move a name into them.

Error messages say what is wrong with the address in plain words and never repeat what a
refused or failing target answered (no status codes, bodies or content types).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from .errors import InvalidContent, TransientError

MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
KINDS = ("image", "video")
USER_AGENT = "SocialCRM media fetcher"


@dataclass(frozen=True)
class Media:
    """One fetched media file: its kind ("image" or "video"), type, size and (when read) its bytes."""

    name: str
    kind: str
    content_type: str
    size: int | None
    body: bytes | None = None


# ---------------------------------------------------------------------------- address shape


def address_problem(url) -> str | None:
    """Why ``url`` can never be fetched (wrong scheme, a user name or password, no host), or None."""
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return "must be a web address starting with http:// or https://"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        return "is not a valid web address"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be a web address starting with http:// or https://"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if not parts.hostname:
        return "has no host name"
    return None


def validate_media_address(url) -> None:
    """Django/DRF-style validator: raises django ValidationError with the plain problem."""
    from django.core.exceptions import ValidationError

    problem = address_problem(url)
    if problem:
        raise ValidationError(f"This address {problem}.")  # not repeated: it may hold a password


def file_name(url: str) -> str:
    path = urlsplit(url).path if isinstance(url, str) else ""
    return unquote(path.rsplit("/", 1)[-1]) or "at this address"


# ---------------------------------------------------------------------------- allow-list


def _settings():
    from django.conf import settings

    return settings


def _allowed_entries():
    entries, configured = [], getattr(_settings(), "FETCH_ALLOWED_HOSTS", None) or ()
    if isinstance(configured, str):  # "host:port,10.0.0.0/8" as written in the environment
        configured = configured.split(",")
    for raw in configured:
        entry = str(raw).strip().lower()
        if entry:
            entries.append(_parse_entry(entry))
    return entries


def _parse_entry(entry: str):
    """("net", network, port|None) or ("name", host, port|None)."""
    try:
        return ("net", ipaddress.ip_network(entry.strip("[]"), strict=False), None)
    except ValueError:
        pass
    host, port = entry, None
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif entry.count(":") == 1:
        host, _, number = entry.partition(":")
        port = int(number) if number.isdigit() else None
    try:
        return ("net", ipaddress.ip_network(host, strict=False), port)
    except ValueError:
        return ("name", host.rstrip("."), port)


def _literal_ip(host: str):
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_allowed_host(url: str) -> bool:
    """Whether FETCH_ALLOWED_HOSTS lets ``url`` through to a non-public address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    address = _literal_ip(host)
    for kind, value, wanted_port in _allowed_entries():
        if wanted_port is not None and wanted_port != port:
            continue
        if kind == "net" and address is not None and address.version == value.version and address in value:
            return True
        if kind == "name" and address is None and host == value:
            return True
    return False


# ---------------------------------------------------------------------------- the guarded session


def is_public_address(address) -> bool:
    if address.version == 6:
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None or address.teredo is not None:
            return False
    if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global):
        return False
    return not (address.version == 6 and address.is_site_local)


class PublicOnlyAdapter(IPFilterAdapter):
    """requests-hardened's filter (resolve once, pin, refuse private), plus a stricter look at the pinned address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        address = ipaddress.ip_address(host_params["host"].strip("[]"))
        if not is_public_address(address):
            raise InvalidIPAddress(address)
        return host_params, pool_kwargs


def _timeouts():
    total = float(getattr(_settings(), "PLATFORM_HTTP_TIMEOUT", 10) or 10)
    return total, (min(total, 3.05), total)


def _session(url: str, timeouts) -> requests.Session:
    if is_allowed_host(url):
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
    else:
        session = HTTPSession(Config(ip_filter_enable=True, ip_filter_allow_loopback_ips=False, never_redirect=True,
                                     default_timeout=timeouts, user_agent_override=USER_AGENT))
        session.mount("http://", PublicOnlyAdapter(is_https_proto=False))
        session.mount("https://", PublicOnlyAdapter(is_https_proto=True))
    session.headers["Accept-Encoding"] = "identity"  # sizes are counted on the bytes as sent
    session.trust_env = False  # no proxy from the environment: the checked address is the one connected to
    return session


# ---------------------------------------------------------------------------- fetching


# The largest media file SocialCRM fetches or stores, by kind; MEDIA_MAX_BYTES overrides per kind.
DEFAULT_MEDIA_MAX_BYTES = {"image": 8 * 1024 * 1024, "video": 100 * 1024 * 1024}


def media_max_bytes(kind: str) -> int:
    limits = getattr(_settings(), "MEDIA_MAX_BYTES", None) or {}
    override = limits.get(kind)
    return int(override) if override is not None else DEFAULT_MEDIA_MAX_BYTES[kind]


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


def _kind_of(content_type: str, kinds) -> str | None:
    main = content_type.split("/", 1)[0]
    return main if main in kinds and "/" in content_type else None


def _not_media(name, kinds):
    what = "an image" if tuple(kinds) == ("image",) else "a video" if tuple(kinds) == ("video",) else "an image or video"
    return InvalidContent(f"The media file {name} is not {what}.")


def _too_big(name, limit):
    return InvalidContent(f"The media file {name} is larger than {_megabytes(limit)}.")


def media_fetch(url: str, *, read_body: bool = True, kinds=KINDS) -> Media:
    """Fetch (or, with ``read_body=False``, check) one media file; raises InvalidContent or TransientError."""
    name = file_name(url)
    problem = address_problem(url)
    if problem:
        raise InvalidContent(f"The media file {name} {problem}.")
    stored = stored_media_name(url)
    if stored is not None:
        return _from_storage(stored, name=name, read_body=read_body, kinds=kinds)
    return _over_http(url, name=name, read_body=read_body, kinds=kinds)


def _over_http(url, *, name, read_body, kinds):
    total, timeouts = _timeouts()
    deadline = time.monotonic() + total
    late = TransientError(f"The media file {name} did not answer within {total:g} s; it will be tried again.")
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            with _session(current, timeouts) as session, \
                    session.get(current, stream=True, allow_redirects=False, timeout=timeouts) as response:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("Location")
                    if not location:
                        raise InvalidContent(f"The media file {name} is not reachable at its address.")
                    current = urljoin(current, location)
                    if address_problem(current):
                        raise InvalidContent(f"The media file {name} is not reachable at its address "
                                             "(it is sent on to an address that cannot be used).")
                    if time.monotonic() > deadline:
                        raise late
                    continue
                return _read(response, name=name, read_body=read_body, kinds=kinds, deadline=deadline, late=late)
        raise InvalidContent(f"The media file {name} is not reachable at its address (too many redirects).")
    except InvalidIPAddress:
        raise InvalidContent(f"The media file {name} points to a private network address and cannot be used.") \
            from None
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise late from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        if time.monotonic() > deadline:  # a read timeout while streaming arrives as a connection error
            raise late from None
        raise TransientError(f"The media file {name} could not be reached; it will be tried again.") from None


def _read(response, *, name, read_body, kinds, deadline, late):
    status = response.status_code
    if status >= 500 or status == 429:
        raise TransientError(f"The media file {name} could not be fetched; it will be tried again.")
    if status >= 300 or status < 200:
        raise InvalidContent(f"The media file {name} is not reachable at its address.")
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    kind = _kind_of(content_type, kinds)
    if kind is None:
        raise _not_media(name, kinds)
    limit = media_max_bytes(kind)
    try:
        declared = int(response.headers.get("Content-Length") or -1)
    except ValueError:
        declared = -1
    if declared > limit:
        raise _too_big(name, limit)
    if not read_body and declared >= 0:
        return Media(name=name, kind=kind, content_type=content_type, size=declared)
    body, size = bytearray(), 0
    while True:
        # read1 returns whatever has arrived, so a slow trickle cannot hold the fetch past its deadline
        chunk = response.raw.read1(CHUNK, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_big(name, limit)
        if time.monotonic() > deadline:
            raise late
        if read_body:
            body.extend(chunk)
    return Media(name=name, kind=kind, content_type=content_type, size=size,
                 body=bytes(body) if read_body else None)


# ---------------------------------------------------------------------------- our own stored files


def stored_media_name(url: str) -> str | None:
    """The storage name of a file the app stored itself (SITE_URL + MEDIA_URL + name), or None."""
    settings = _settings()
    media_url = settings.MEDIA_URL or "/media/"
    prefix = media_url if urlsplit(media_url).scheme else settings.SITE_URL.rstrip("/") + media_url
    base, parts = urlsplit(prefix), urlsplit(url)
    if (parts.scheme.lower(), (parts.netloc or "").lower()) != (base.scheme.lower(), (base.netloc or "").lower()):
        return None
    if not parts.path.startswith(base.path):
        return None
    return unquote(parts.path[len(base.path):])


def _from_storage(stored, *, name, read_body, kinds):
    from django.core.exceptions import SuspiciousFileOperation
    from django.core.files.storage import default_storage

    gone = InvalidContent(f"The media file {name} is no longer stored; upload it again.")
    if not stored or stored.startswith("/") or "\\" in stored or "\x00" in stored or ".." in stored.split("/"):
        raise gone
    content_type = (mimetypes.guess_type(stored)[0] or "").lower()
    kind = _kind_of(content_type, kinds)
    if kind is None:
        raise _not_media(name, kinds)
    limit = media_max_bytes(kind)
    try:
        if not default_storage.exists(stored):
            raise gone
        size = default_storage.size(stored)
        if size > limit:
            raise _too_big(name, limit)
        body = None
        if read_body:
            with default_storage.open(stored, "rb") as handle:
                body = handle.read(limit + 1)
            if len(body) > limit:
                raise _too_big(name, limit)
    except (SuspiciousFileOperation, ValueError):
        raise gone from None
    except OSError:
        raise TransientError(f"The media file {name} could not be read; it will be tried again.") from None
    return Media(name=name, kind=kind, content_type=content_type, size=size, body=body)
