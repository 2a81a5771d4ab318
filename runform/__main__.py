import sys

from runform.cli import main

sys.exit(main())
