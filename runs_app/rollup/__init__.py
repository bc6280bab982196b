"""The hourly history rollup of flow runs: ``writes`` keeps it, ``reads`` answers from it."""
