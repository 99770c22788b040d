#!/usr/bin/env python3
"""The Docker action's entrypoint: no arguments runs the gate from INPUT_* variables; any
arguments are the `cekura-ci` command line (so `docker run IMAGE demo` works too)."""

import os
import sys

from cekura_ci.cli import action_main, main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) if len(sys.argv) > 1 else action_main(os.environ))
