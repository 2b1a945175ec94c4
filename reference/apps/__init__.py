"""The reference platform (PRAHO): the seed's Django-Q2 task system."""
