"""`python -m groqstream`: the same as the `groqstream` command."""

import sys

from .cli.main import main

sys.exit(main())
