import sys

from visent.cli import main

sys.exit(main())
