"""Where exports may go: the allow-list of locations (pure, no I/O but path resolution).

`IDGRAPH_EXPORT_ALLOW` lists what a destination may name, comma-separated:
- a local directory (`exports/`, `/srv/exports`): files anywhere under it, after resolving
  `..` and symbolic links (a `file://` URL is the same as its path);
- a URL prefix (`s3://`, `s3://bucket/exports/`, `https://hooks.example.com/`,
  `http://127.0.0.1:9000/`): the same scheme, the same host when one is given, and a path
  under the prefix's path (compared by whole segments).
Anything else is refused with DESTINATION_NOT_ALLOWED: an admin key must not be enough to
overwrite the server's own files, nor to reach an internal host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from idgraph.errors import InvalidInput

NOT_ALLOWED = "DESTINATION_NOT_ALLOWED"
FILE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
HTTP_SCHEMES = frozenset({"http", "https"})
# Whitespace and control characters never belong in a location (header or log injection).
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
MAX_LOCATION = 2048


@dataclass(frozen=True)
class Prefix:
    """One allowed URL prefix."""

    scheme: str
    netloc: str  # "" = any host
    path: str  # "" or "/" = any path

    def admits(self, url: SplitResult) -> bool:
        if url.scheme != self.scheme or (self.netloc and url.netloc.lower() != self.netloc):
            return False
        base = self.path.rstrip("/")
        return not base or url.path == base or url.path.startswith(base + "/")


@dataclass(frozen=True)
class AllowList:
    """Local roots and URL prefixes a destination may name."""

    roots: tuple[Path, ...]
    prefixes: tuple[Prefix, ...]

    @classmethod
    def parse(cls, text: str, base: Path | None = None) -> AllowList:
        roots: list[Path] = []
        prefixes: list[Prefix] = []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            if "://" in entry and not entry.startswith("file://"):
                url = urlsplit(entry)
                prefixes.append(Prefix(url.scheme.lower(), url.netloc.lower(), url.path))
            else:
                path = Path(entry.removeprefix("file://")).expanduser()
                roots.append(((base or Path.cwd()) / path).resolve())
        return cls(tuple(roots), tuple(prefixes))

    def check_file(self, location: str) -> str:
        """The location normalised (a local path made absolute), or DESTINATION_NOT_ALLOWED."""
        _check_text(location)
        if "://" not in location or location.startswith("file://"):
            return str(self._local(location.removeprefix("file://")))
        url = _split(location)
        if url.scheme not in FILE_SCHEMES:
            raise InvalidInput(f"A file destination's scheme must be one of "
                               f"{', '.join(sorted(FILE_SCHEMES))} or a local path; "
                               f"got {url.scheme!r}.", NOT_ALLOWED)
        return self._admitted(url, location)

    def check_http(self, location: str) -> str:
        _check_text(location)
        url = _split(location)
        if url.scheme not in HTTP_SCHEMES or not url.hostname:
            raise InvalidInput("An HTTP destination needs an http(s) URL with a host.",
                               NOT_ALLOWED)
        if "@" in url.netloc:
            raise InvalidInput("Put credentials in headers, not in the URL.", NOT_ALLOWED)
        return self._admitted(url, location)

    def _admitted(self, url: SplitResult, location: str) -> str:
        if not any(p.admits(url) for p in self.prefixes):
            raise InvalidInput(f"{_shown(location)} is not under an allowed export location "
                               "(IDGRAPH_EXPORT_ALLOW).", NOT_ALLOWED)
        return location

    def _local(self, text: str) -> Path:
        path = Path(text).expanduser()
        resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if not any(resolved == r or resolved.is_relative_to(r) for r in self.roots):
            raise InvalidInput(f"{_shown(text)} is not under an allowed export directory "
                               "(IDGRAPH_EXPORT_ALLOW).", NOT_ALLOWED)
        return resolved


def _split(location: str) -> SplitResult:
    try:
        url = urlsplit(location)
    except ValueError as exc:
        raise InvalidInput(f"Not a URL: {exc}.", NOT_ALLOWED) from exc
    # `..` is refused outright rather than normalised: object stores take it literally, HTTP
    # servers do not, and a prefix check must not depend on which.
    if ".." in url.path.split("/") or "//" in url.path:
        raise InvalidInput("A destination URL may not contain '..' or '//' in its path.",
                           NOT_ALLOWED)
    return url._replace(scheme=url.scheme.lower())


def _check_text(location: str) -> None:
    if not location or len(location) > MAX_LOCATION:
        raise InvalidInput(f"A destination location is 1 to {MAX_LOCATION} characters.")
    if _UNSAFE.search(location):
        raise InvalidInput("A destination location may not contain spaces or control "
                           "characters.", NOT_ALLOWED)


def _shown(text: str) -> str:
    return repr(text[:200])
