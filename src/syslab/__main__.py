"""`python -m syslab` is the same as the `syslab` command."""

from syslab.cli import main

main()
