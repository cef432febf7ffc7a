"""URLs as qa shows them: a URL qa was given (a chat endpoint, a database) may carry what lets
anyone in, and every message, `qa config` line and report that names one hides it."""

from __future__ import annotations

import re
from urllib.parse import unquote

HIDDEN = "***"
# A URL inside a message: up to white space, a quote or an angle bracket, and not the punctuation
# of the sentence it ends (…/v1: Connection error).
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+(?<![.,:;)\]])", re.IGNORECASE)
# Query parameters whose value is a credential: password=, api-key=, key=, access_token=, sig=…
_SECRET_NAME = re.compile(r"pass|pwd|key|token|secret|sig|auth|credential|session", re.IGNORECASE)
_PARAMETER = re.compile(r"(?<=[?&;])([^=&;#]*)=([^&;#]*)")


def _parts(url: str) -> tuple[str, str, str, str] | None:
    """(scheme and ://, user part, host and path, query and fragment), None for no URL."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None
    path_at = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    # the last @ before the path ends the user part: a password may hold an unescaped @
    userinfo, at, host = rest[:path_at].rpartition("@")
    query_at = min((i for i in map(rest.find, "?#", [path_at] * 2) if i >= 0), default=len(rest))
    return scheme + separator, userinfo + at, host + rest[path_at:query_at], rest[query_at:]


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries (its password, its secret parameters' values), as written
    and decoded: a server may echo them on their own."""
    parts = _parts(url)
    if parts is None:
        return []
    _, userinfo, _, query = parts
    found = [userinfo[:-1].partition(":")[2]]
    found += [value for name, value in _PARAMETER.findall(query) if _SECRET_NAME.search(name)]
    return [s for secret in found if secret for s in {secret, unquote(secret)}]


def masked_url(url: str) -> str:
    """The URL with its password and the values of its secret parameters replaced by ***; the
    user, host, path and other parameters are kept, to say which server it is."""
    parts = _parts(url)
    if parts is None:
        return url
    scheme, userinfo, host, query = parts
    user, colon, password = userinfo[:-1].partition(":")
    if password:
        userinfo = f"{user}{colon}{HIDDEN}@"
    query = _PARAMETER.sub(
        lambda m: f"{m[1]}={HIDDEN}" if m[2] and _SECRET_NAME.search(m[1]) else m[0], query
    )
    return scheme + userinfo + host + query


def masked_urls(text: str) -> str:
    """The text with every URL in it masked (masked_url)."""
    return _URL.sub(lambda m: masked_url(m[0]), text)
