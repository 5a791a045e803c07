"""One module per `energydash` subcommand; see energydash.cli for the convention."""
