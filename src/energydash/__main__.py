"""`python -m energydash` is the `energydash` command."""

from energydash.cli import main

raise SystemExit(main())
