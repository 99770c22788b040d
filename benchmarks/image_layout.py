"""The image's /action, built as the Dockerfile builds it: the package and the entrypoint copied,
their bytecode compiled and the report templates precompiled (or neither, as 0.1.0's image)."""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(target: Path, compiled: bool = True, python: str = sys.executable) -> Path:
    shutil.copytree(
        ROOT / "cekura_ci",
        target / "cekura_ci",
        ignore=shutil.ignore_patterns("__pycache__", "__compiled__"),
    )
    shutil.copy2(ROOT / "entrypoint.py", target / "entrypoint.py")
    if compiled:
        compileall.compile_dir(target / "cekura_ci", quiet=1)
        subprocess.run(
            [python, "-c", "from cekura_ci.report.templating import precompile; precompile()"],
            env={**os.environ, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1"},
            check=True,
        )
    return target
