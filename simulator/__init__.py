"""Platform simulator: Facebook, Instagram, X and LinkedIn HTTP APIs on loopback, for tests and local runs."""
