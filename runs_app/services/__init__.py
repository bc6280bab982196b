"""Writes of runs_app, one module per sub-domain (every write that enforces a rule or
touches more than one row). ``runs`` holds the one door into orchestration."""
