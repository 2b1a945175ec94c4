"""Settings for the reference platform: base, development, production and test."""
