"""How :func:`gentleclip.cli.main.main` reports what is not an InputError: OS errors on user
paths, SIGTERM (Lightning's ``SIGTERMException``) and Ctrl-C, each in one stderr line with a
non-zero exit code."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lightning.pytorch.utilities.exceptions import SIGTERMException

from gentleclip.cli import main as cli_main
from gentleclip.cli import split as split_cmd


def _raising(exc: BaseException):
    def run(args: object) -> int:
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "code", "pattern"),
    [
        (OSError(errno.ENAMETOOLONG, "File name too long", "a" * 300), 2, "File name too long"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/x/y"), 2, "/proc"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "out.csv"), 2, "Is a directory"),
        (OSError(errno.ENOSPC, "No space left on device", "run"), 1, "No space left"),
        (SIGTERMException(), 143, "^gentleclip: terminated by SIGTERM .*--resume"),
        (KeyboardInterrupt(), 130, "^gentleclip: interrupted .*--resume"),
    ],
)
def test_os_errors_and_signals_are_one_line_with_their_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, exc, code, pattern
) -> None:
    monkeypatch.setattr(split_cmd, "run", _raising(exc))
    assert (
        cli_main.main(["split", "x.npz", "--out", "d", "--pairs", "2", "--regime", "bags"]) == code
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("gentleclip: ")
    assert __import__("re").search(pattern, err[0]), err[0]


def test_help_and_usage_exit_codes_are_unchanged(capsys: pytest.CaptureFixture) -> None:
    assert cli_main.main(["--help"]) == 0
    assert cli_main.main(["split", "--bogus"]) == 2


def test_an_output_name_the_os_rejects_is_bad_input(full_npz: Path, tmp_path: Path, capsys):
    out = tmp_path / ("d" * 300)
    assert (
        cli_main.main(
            [
                "split",
                str(full_npz),
                "--out",
                str(out),
                "--pairs",
                "10",
                "--regime",
                "bags",
                "--test-size",
                "40",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "File name too long" in err[0], err


def _default_sigint() -> None:
    """In the child before exec: SIGINT's default disposition. An ignored one (a background
    job of a non-interactive shell has it) is inherited through exec, and Python then
    installs no KeyboardInterrupt handler, so the child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("sig", "code", "message"),
    [(signal.SIGTERM, 143, "terminated by SIGTERM"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_stops_train_with_its_code_and_a_resume_hint(
    full_npz: Path, tmp_path: Path, tiny_recipe: Path, sig: int, code: int, message: str
) -> None:
    data, run = tmp_path / "d", tmp_path / "run"
    assert (
        cli_main.main(
            [
                "split",
                str(full_npz),
                "--out",
                str(data),
                "--pairs",
                "20",
                "--regime",
                "bags",
                "--test-size",
                "40",
            ]
        )
        == 0
    )
    cmd = [sys.executable, "-m", "gentleclip", "train", str(data), "--out", str(run)]
    cmd += ["--config", str(tiny_recipe), "--steps", "1000000", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,  # a test run in a background job inherits SIGINT ignored
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if (run / "checkpoints" / "last.ckpt").is_file():
            proc.send_signal(sig)
            break
        time.sleep(0.01)
    _, err = proc.communicate(timeout=120)
    lines = [x for x in err.decode().splitlines() if x.strip()]
    assert proc.returncode == code, (proc.returncode, lines[-5:])
    assert lines[-1].startswith(f"gentleclip: {message}"), lines[-5:]
    assert not (run / "model").exists()  # no model claims to be the finished run


def test_unknown_option_points_to_the_subcommand_help(capsys: pytest.CaptureFixture) -> None:
    assert cli_main.main(["train", "d", "--out", "r", "--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    hint = "(see: gentleclip train --help)"
    assert err == [f"gentleclip: error: unrecognized arguments: --bogus {hint}"]
