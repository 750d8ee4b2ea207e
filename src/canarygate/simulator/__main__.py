"""Entry point: python -m canarygate.simulator --help"""

import sys

from canarygate.simulator.cli import main

sys.exit(main())
