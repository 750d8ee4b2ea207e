"""`python -m canarygate ...` is the `canarygate` command."""

import sys

from canarygate.cli.main import main

sys.exit(main())
