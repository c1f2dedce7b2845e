"""The container image, checked on its Dockerfile (no Docker here to build it)."""

from __future__ import annotations

from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments left out."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def test_the_server_runs_as_a_non_root_user():
    steps = instructions()
    users = [n for n, (name, _) in enumerate(steps) if name == "USER"]
    assert users, "the image must name a USER to run as"
    user = steps[users[-1]][1].split(":")[0]
    assert user not in ("root", "0"), "the server must not run as root"
    # every step after USER runs as that user; the server (CMD) is one of them
    last_run = max(n for n, (name, _) in enumerate(steps) if name == "RUN")
    assert users[-1] > last_run and steps[-1][0] == "CMD"
    # the user is created in the image, with the id USER names
    assert any(name == "RUN" and "useradd" in args and f"--uid {user}" in args
               for name, args in steps)
