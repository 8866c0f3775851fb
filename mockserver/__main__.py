"""``python -m mockserver`` runs the ``resplay`` command line."""

from .cli import main

raise SystemExit(main())
