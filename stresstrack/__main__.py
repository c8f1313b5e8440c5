import sys

from stresstrack.cli import main

sys.exit(main())
