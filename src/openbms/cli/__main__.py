"""``python -m openbms.cli``: the same as the ``openbms`` command."""

from openbms.cli.main import main

main()
