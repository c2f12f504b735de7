"""`python -m syslab.txn.mdss`: one replica process (see `replica`)."""

import sys

from syslab.txn.mdss.replica import main

sys.exit(main())
