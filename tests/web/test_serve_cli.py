"""``openfsgan serve`` at the CLI edge: loopback by default, clear errors before starting."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from openfsgan.cli.main import main
from openfsgan.cli.serve import DEFAULT_HOST, is_loopback


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("example.org", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_default_host_is_this_computer_only():
    assert is_loopback(DEFAULT_HOST)


def test_a_busy_port_fails_early_with_the_fix(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")])
    assert code == 9
    error = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in error and "--port" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(("options", "fragment"), [
    (["--max-upload-mb", "0"], "--max-upload-mb"),
    (["--port", "70000"], "--port"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, options, fragment):
    code = main(["serve", "--data-dir", str(tmp_path / "d"), *options])
    assert code == 9
    assert fragment in capsys.readouterr().err


def test_an_unusable_data_folder_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["serve", "--port", str(_free_port()), "--data-dir", str(blocker / "web")])
    assert code == 7
    assert "cannot use the data folder" in capsys.readouterr().err


def test_a_corrupt_job_database_is_a_one_line_error(tmp_path, capsys):
    data = tmp_path / "web"
    data.mkdir()
    (data / "jobs.sqlite3").write_bytes(b"this is not a database" * 100)
    code = main(["serve", "--port", str(_free_port()), "--data-dir", str(data)])
    assert code == 9
    error = capsys.readouterr().err
    assert "job database" in error and "Traceback" not in error


def test_a_public_host_is_warned_about_loudly(tmp_path):
    with socket.socket() as busy:  # the port is taken, so the server stops after the warning
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "openfsgan", "serve", "--host", "0.0.0.0", "--port",
             str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 9
    assert "NOT only on this computer" in done.stderr and "no login" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
