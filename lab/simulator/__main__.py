"""Entry point: python -m lab.simulator --help"""

import sys

from lab.simulator.cli import main

sys.exit(main())
