import sys

from ecomsuite.cli import main

sys.exit(main())
