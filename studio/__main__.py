"""`python -m studio [command]`."""

from studio.cli import main

raise SystemExit(main())
