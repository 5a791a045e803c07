"""The one log format: every line in the file and on the console, secrets blanked, files rotated
at their size limit."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from energydash.config import Settings
from energydash.logs import setup_logging


@pytest.fixture
def logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    console = io.StringIO()
    monkeypatch.setattr("sys.stderr", console)
    settings = Settings(log_dir=tmp_path, log_max_bytes=10_000, log_backups=2)
    path = setup_logging("unit", settings)
    yield path, console
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_energydash", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_file_and_console_get_the_same_redacted_line(logged) -> None:
    path, console = logged
    # an access line like uvicorn's (its own logger may have been configured by another test)
    logging.getLogger("energydash.unit.access").info(
        '%s - "GET %s HTTP/1.1" %d', "127.0.0.1:5000", "/ws?token=s3cret&x=1", 101
    )
    file_lines = path.read_text().splitlines()
    console_lines = console.getvalue().splitlines()
    assert file_lines == console_lines and len(file_lines) == 1
    assert "s3cret" not in file_lines[0]
    assert "token=<redacted>&x=1" in file_lines[0]
    assert " INFO    " in file_lines[0] and "energydash.unit.access:" in file_lines[0]


def test_lines_logged_in_the_same_second_keep_their_own_text(logged) -> None:
    path, _ = logged
    log = logging.getLogger("energydash.unit")
    for k in range(50):
        log.warning("line %d", k)
    lines = path.read_text().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(k) for k in range(50)]


def test_the_file_rolls_over_at_its_size_limit_and_keeps_its_backups(logged) -> None:
    path, _ = logged
    log = logging.getLogger("energydash.unit")
    for k in range(1_000):  # about 90 kB of lines: several rollovers
        log.info("rotation line %04d %s", k, "x" * 20)
    files = sorted(path.parent.glob("unit.log*"))
    assert [f.name for f in files] == ["unit.log", "unit.log.1", "unit.log.2"]
    assert all(f.stat().st_size < 10_000 for f in files)
    # the newest lines are in the live file, the lines before them in the first backup
    assert path.read_text().splitlines()[-1].endswith(f"0999 {'x' * 20}")
    last_backup = (path.parent / "unit.log.1").read_text().splitlines()[-1]
    first_live = path.read_text().splitlines()[0]
    before = int(last_backup.split("rotation line ")[1][:4])
    assert int(first_live.split("rotation line ")[1][:4]) == before + 1
