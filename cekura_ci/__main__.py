import sys

from cekura_ci.cli import main

sys.exit(main())
