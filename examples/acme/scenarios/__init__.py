"""What the harness scenarios of this project use (never imported by the application)."""
