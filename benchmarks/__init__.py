"""`make bench`: measured figures with targets from the issues; never asserted in tests."""
