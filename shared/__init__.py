"""What both sides need: settings, models, keys, errors, money, the ledger, the stores, the
vendors, the broker, telemetry; and the CLI, the composition root (see shared/cli/)."""
