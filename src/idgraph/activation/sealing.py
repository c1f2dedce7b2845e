"""Secrets at rest: an HTTP destination's signature secret and header values (a partner's API
token) are stored in Neo4j sealed with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`), and
opened only to deliver a batch. Header names stay readable (`headerNames`); nothing sealed is
ever returned through the API.

Keys (docs/segments.md, "Secrets"):
- `IDGRAPH_SECRETS_KEY`: Fernet keys, comma-separated, newest first. The first seals; every one
  opens (MultiFernet), so a key is rotated by putting a new one in front, running
  `idgraph secrets reseal` (every destination sealed again with the first key), then dropping
  the old one.
- else `IDGRAPH_SECRETS_KEY_FILE`: a file holding those keys (a mounted secret).
- else, with the managed local Neo4j only (no NEO4J_URI): a key generated once, kept in
  `secrets-key` (mode 0600) in the managed Neo4j's state directory, next to its password.
- else (a deployment with NEO4J_URI and no key): sealing fails with SECRETS_KEY_MISSING naming
  the setting, so no secret is ever stored in clear by accident. A destination without a secret
  or headers needs no key.

A destination written by an earlier version has no `secretsSealed` flag: its values are read as
they are (clear) and sealed by the activation scheduler's next round (activation/domain.py), on
its next update, or by `idgraph secrets reseal`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from idgraph.errors import IdgraphError

if TYPE_CHECKING:  # imported where used: `cryptography` is only needed to seal or open
    from cryptography.fernet import MultiFernet

    from idgraph.activation.destinations import Destination
    from idgraph.config import Settings

KEY_FILE = "secrets-key"
SETTING = "IDGRAPH_SECRETS_KEY"


class SecretsKeyError(IdgraphError):
    """No key to seal with (SECRETS_KEY_MISSING), or the keys given do not open what is stored
    or are not Fernet keys (SECRETS_KEY_INVALID)."""

    code = "SECRETS_KEY_MISSING"

    def __init__(self, message: str, code: str | None = None) -> None:
        # The code in the text too: a failed export run keeps only the message.
        super().__init__(f"{code or self.code}: {message}", code)


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class Keyring:
    """The keys secrets are sealed with, found when first needed (a process that never touches
    a secret needs none)."""

    def __init__(self, keys: str = "", key_file: Path | None = None,
                 managed_file: Path | None = None) -> None:
        self.keys, self.key_file, self.managed_file = keys, key_file, managed_file
        self._fernet: MultiFernet | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        managed = None if settings.neo4j_uri else \
            settings.local_neo4j_state_dir.expanduser() / KEY_FILE
        return cls(settings.secrets_key.get_secret_value(), settings.secrets_key_file, managed)

    def check(self) -> None:
        """Fail now (at start-up) if configured keys are not Fernet keys."""
        if self.keys.strip() or self.key_file is not None:
            self._multi(create=False)

    def seal(self, value: str) -> str:
        return self._multi(create=True).encrypt(value.encode()).decode()

    def open(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._multi(create=False).decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsKeyError(
                "the stored secrets were sealed with a key that is not among the configured "
                f"ones ({SETTING}): give the key they were sealed with (after the new one, "
                "while rotating).", "SECRETS_KEY_INVALID") from None

    def reseal(self, token: str) -> str:
        """`token` sealed again with the first key (key rotation)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._multi(create=False).rotate(token.encode()).decode()
        except InvalidToken:
            self.open(token)  # raises the clear error
            raise

    def _multi(self, create: bool) -> MultiFernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet, MultiFernet

            keys = [k.strip() for k in self._text(create).replace("\n", ",").split(",")
                    if k.strip()]
            if not keys:
                raise SecretsKeyError(
                    f"no key to open the stored secrets with: set {SETTING} to the key they "
                    f"were sealed with (the managed key file {self.managed_file} is gone).")
            try:
                self._fernet = MultiFernet([Fernet(k) for k in keys])
            except ValueError:
                raise SecretsKeyError(
                    f"{SETTING} holds Fernet keys (32 url-safe base64-encoded bytes each, "
                    "comma-separated, newest first); `idgraph secrets new-key` makes one.",
                    "SECRETS_KEY_INVALID") from None
        return self._fernet

    def _text(self, create: bool) -> str:
        if self.keys.strip():
            return self.keys
        if self.key_file is not None:
            try:
                return self.key_file.read_text()
            except OSError as exc:
                raise SecretsKeyError(f"IDGRAPH_SECRETS_KEY_FILE {self.key_file}: "
                                      f"{exc.strerror}.") from None
        if self.managed_file is not None:
            found = _read(self.managed_file)
            if found or not create:
                return found or ""
            return _generate(self.managed_file)
        raise SecretsKeyError(
            f"no key to seal secrets with: set {SETTING} (or IDGRAPH_SECRETS_KEY_FILE) to a "
            "Fernet key (`idgraph secrets new-key` makes one). A deployment with NEO4J_URI "
            "stores a destination's secret and header values only sealed.")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _generate(path: Path) -> str:
    """A key generated once for the managed Neo4j; another process generating at the same
    moment loses the race (O_EXCL on a link) and reads the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f"{path.name}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(new_key() + "\n")
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink(missing_ok=True)
    return path.read_text().strip()


def sealed(destination: Destination, keyring: Keyring) -> Destination:
    """`destination` (values in clear) as stored: secret and header values sealed."""
    if destination.sealed:
        return destination
    return replace(destination, sealed=True,
                   headers={k: keyring.seal(v) for k, v in destination.headers.items()},
                   secret=keyring.seal(destination.secret) if destination.secret else None)


def opened(destination: Destination, keyring: Keyring) -> Destination:
    """`destination` with its secret and header values in clear (stored in clear by an earlier
    version: as it is)."""
    if not destination.sealed:
        return destination
    return replace(destination, sealed=False,
                   headers={k: keyring.open(v) for k, v in destination.headers.items()},
                   secret=keyring.open(destination.secret) if destination.secret else None)


def resealed(destination: Destination, keyring: Keyring) -> Destination:
    """A stored destination sealed with the first key (clear values from earlier versions
    sealed for the first time)."""
    if not destination.sealed:
        return sealed(destination, keyring)
    return replace(destination,
                   headers={k: keyring.reseal(v) for k, v in destination.headers.items()},
                   secret=keyring.reseal(destination.secret) if destination.secret else None)
