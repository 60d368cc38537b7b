import sys

from k8scheck.cli import main

sys.exit(main())
