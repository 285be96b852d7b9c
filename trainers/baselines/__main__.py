"""``python -m ecomsuite.trainers.baselines ...`` = ``ecomsuite baseline ...``."""
from . import main

raise SystemExit(main())
