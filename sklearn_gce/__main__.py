import sys

from sklearn_gce.cli import main

sys.exit(main())
