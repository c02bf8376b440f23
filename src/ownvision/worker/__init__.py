"""Background jobs: training and exports, claimed atomically from the database."""
