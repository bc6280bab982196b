"""The seeded data set of ``manage.py orion_seed`` (``generate``: the rows, ``write``: into
the database); ``bench`` seeds its data set through the same code."""
