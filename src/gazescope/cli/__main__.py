"""``python -m gazescope.cli``: the ``gazescope`` command."""

from gazescope.cli import main

main()
