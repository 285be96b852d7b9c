"""``python -m ecomsuite.leaderboard build RESULTS_DIR... --out SITE_DIR``"""

import sys

from .build import main

if __name__ == "__main__":
    sys.exit(main())
