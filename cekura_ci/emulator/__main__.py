"""`python -m cekura_ci.emulator`: serve the stand-in (see cli.py)."""

import sys

from .cli import main

sys.exit(main(prog="python -m cekura_ci.emulator"))
