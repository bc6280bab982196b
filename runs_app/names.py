"""Random two-word run names (``sensible-anaconda``) for runs created without one."""

from __future__ import annotations

import random

ADJECTIVES = (
    "able", "agile", "amber", "ancient", "bold", "brave", "bright", "brisk", "calm", "clever",
    "cosmic", "crimson", "curious", "daring", "dashing", "eager", "electric", "elegant", "fancy",
    "fearless", "gentle", "glossy", "golden", "graceful", "happy", "hidden", "humble", "icy",
    "jolly", "keen", "lively", "lucky", "magnetic", "mellow", "merry", "mighty", "nimble",
    "noble", "olive", "patient", "polite", "proud", "quick", "quiet", "rapid", "rustic",
    "sensible", "shiny", "silent", "silver", "smart", "spirited", "steady", "sturdy", "sunny",
    "swift", "tidy", "trusty", "urban", "vivid", "warm", "wise", "witty", "zealous",
)  # fmt: skip
ANIMALS = (
    "albatross", "anaconda", "antelope", "badger", "bear", "beaver", "bison", "bobcat", "camel",
    "caracal", "cheetah", "cobra", "condor", "cougar", "coyote", "crane", "dingo", "dolphin",
    "eagle", "falcon", "ferret", "finch", "fox", "gazelle", "gecko", "gibbon", "heron", "hyena",
    "ibis", "iguana", "jackal", "jaguar", "kestrel", "koala", "lemur", "leopard", "lynx",
    "marmot", "marten", "mongoose", "moose", "narwhal", "ocelot", "orca", "otter", "owl",
    "panda", "panther", "pelican", "puma", "quail", "raven", "salamander", "seal", "stork",
    "tapir", "tiger", "toucan", "turtle", "viper", "walrus", "wolf", "wombat", "yak", "zebra",
)  # fmt: skip


def random_run_name() -> str:
    """An adjective and an animal joined by a dash."""
    return f"{random.choice(ADJECTIVES)}-{random.choice(ANIMALS)}"
