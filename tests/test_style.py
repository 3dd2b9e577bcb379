"""The code stays ruff-clean (lint and format), checked with the tests."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    result = subprocess.run(
        [ruff, *command, str(REPO)], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
