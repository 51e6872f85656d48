"""`python -m minigpt ...`, the form torchrun starts: `torchrun --nproc_per_node=2 -m minigpt`."""

import sys

from minigpt.cli import main

sys.exit(main())
