"""`python -m s2sgrad`: the command line (s2sgrad/cli)."""
import sys

from .cli import main

sys.exit(main())
