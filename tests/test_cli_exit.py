"""The `idgraph` command leaves its process without the interpreter's teardown
(idgraph/cli/__init__.py, `main`): what it wrote still arrives, and its exit status is the one
`sys.exit` would give."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("code", "status", "stderr"), [
    ("0", 0, ""), ("None", 0, ""), ("3", 3, ""), ("'boom'", 1, "boom\n")])
def test_buffered_output_arrives_and_the_status_is_sys_exits(code, status, stderr):
    # Written without a newline to a pipe: still in the buffer when exit_now is called.
    done = run("import sys; from idgraph.cli import exit_now; sys.stdout.write('partial'); "
               f"sys.stderr.write(''); exit_now({code})")
    assert (done.returncode, done.stdout, done.stderr) == (status, "partial", stderr)


def test_the_command_exits_with_clicks_status_and_message():
    done = run("import sys; sys.argv = ['idgraph', 'no-such-command']; "
               "from idgraph.cli import main; main()")
    assert done.returncode == 2
    assert "No such command" in done.stderr


def test_an_error_other_than_an_exit_leaves_the_normal_way_with_its_traceback():
    done = run("import sys; sys.argv = ['idgraph', '--help']; import idgraph.cli as cli; "
               "cli.app = lambda: 1 / 0; cli.main()")
    assert done.returncode == 1
    assert "ZeroDivisionError" in done.stderr
