"""Sealing secrets at rest (activation/sealing.py), the pure parts: where keys come from, what
happens without one, rotation, and destinations sealed and opened."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from idgraph.activation.destinations import Destination, Kind
from idgraph.activation.sealing import (
    KEY_FILE,
    Keyring,
    SecretsKeyError,
    new_key,
    opened,
    resealed,
    sealed,
)
from idgraph.config import Settings

HTTP = Destination("d", "partner", Kind.HTTP, "https://partner.example/hook",
                   headers={"Authorization": "Bearer token-123"}, secret="s" * 20)


def test_the_managed_neo4j_gets_a_key_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(local_neo4j_state_dir=tmp_path / "neo4j")
    first = Keyring.from_settings(settings)
    token = first.seal("partner-token")
    path = tmp_path / "neo4j" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text()
    again = Keyring.from_settings(settings)  # another process, later
    assert again.open(token) == "partner-token"
    again.seal("x")
    assert path.read_text() == key


def test_a_deployment_with_neo4j_uri_and_no_key_refuses_to_seal_and_says_what_to_set(
        tmp_path: Path) -> None:
    keyring = Keyring.from_settings(Settings(neo4j_uri="neo4j://db:7687",
                                             local_neo4j_state_dir=tmp_path))
    with pytest.raises(SecretsKeyError) as caught:
        sealed(HTTP, keyring)
    assert caught.value.code == "SECRETS_KEY_MISSING"
    assert "IDGRAPH_SECRETS_KEY" in str(caught.value)
    assert not list(tmp_path.iterdir())  # no key file made for a deployment
    # A destination with nothing secret needs no key.
    plain = sealed(Destination("f", "file", Kind.FILE, "exports/a.csv"), keyring)
    assert plain.sealed and plain.secret is None


def test_keys_that_are_not_fernet_keys_are_refused_at_start() -> None:
    with pytest.raises(SecretsKeyError) as caught:
        Keyring("not-a-key").check()
    assert caught.value.code == "SECRETS_KEY_INVALID"


def test_a_destination_is_stored_sealed_and_opens_to_the_same_values() -> None:
    keyring = Keyring(new_key())
    stored = sealed(HTTP, keyring)
    assert stored.sealed and set(stored.headers) == {"Authorization"}
    assert "token-123" not in str(stored.props()) and "s" * 20 not in str(stored.props())
    assert opened(stored, keyring) == HTTP
    # As an earlier version stored it (no flag): read as it is.
    assert opened(Destination.of(HTTP.props()), keyring) == HTTP


def test_the_wrong_key_is_a_typed_error_naming_the_setting() -> None:
    stored = sealed(HTTP, Keyring(new_key()))
    with pytest.raises(SecretsKeyError) as caught:
        opened(stored, Keyring(new_key()))
    assert caught.value.code == "SECRETS_KEY_INVALID"
    assert "IDGRAPH_SECRETS_KEY" in str(caught.value)


def test_rotation_new_key_first_opens_old_values_and_reseal_moves_them_to_the_new_key() -> None:
    old, new = new_key(), new_key()
    stored = sealed(HTTP, Keyring(old))
    rotating = Keyring(f"{new},{old}")
    assert opened(stored, rotating) == HTTP
    moved = resealed(stored, rotating)
    assert opened(moved, Keyring(new)) == HTTP
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(moved.secret or "")
    # Clear values from an earlier version are sealed by the same step.
    legacy = Destination.of(HTTP.props())
    assert opened(resealed(legacy, Keyring(new)), Keyring(new)) == HTTP


def test_the_cli_prints_a_new_key_that_seals() -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    result = CliRunner().invoke(app, ["secrets", "new-key"])
    assert result.exit_code == 0
    key = result.output.strip()
    assert Keyring(key).open(Keyring(key).seal("x")) == "x"
