import sys

from tahawul.cli import main

sys.exit(main())
