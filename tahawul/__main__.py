import sys

from tahawul.cli.main import main

sys.exit(main())
