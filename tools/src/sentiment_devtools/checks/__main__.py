import sys

from sentiment_devtools.checks.cli import main

sys.exit(main())
