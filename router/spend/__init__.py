"""Cost and spend: prices, the spend ledger and each worker's book of its keys' spend."""
