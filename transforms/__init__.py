"""Plain functions that import, enrich, validate and summarise; flows and the CLI call them."""
