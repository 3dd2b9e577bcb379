"""Install the tiny provider as a separate distribution in a folder.

The folder gets ``tiny_tracker.py`` and a ``tiny_tracker-0.1.0.dist-info``
with an entry point in the ``trackbridge`` group: put the folder on
``sys.path`` (or ``PYTHONPATH``) and ``importlib.metadata`` finds it, exactly
as it finds any provider installed with pip.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def install_tiny_distribution(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(
        Path(__file__).parent / "tiny_tracker.py", directory / "tiny_tracker.py"
    )
    info = directory / "tiny_tracker-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tiny-tracker\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[trackbridge]\ntiny = tiny_tracker\n")
    (info / "RECORD").write_text("")
    return directory
