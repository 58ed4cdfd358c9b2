"""`python -m ppcftrace` is the `ppcftrace` command."""

import sys

from ppcftrace.cli import main

sys.exit(main())
