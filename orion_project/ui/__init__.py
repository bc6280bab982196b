"""The stock Prefect dashboard, served unchanged from the data directory.

``install`` fetches a ``prefect`` wheel with pip and extracts only its UI folder;
``middleware`` serves that folder at ``/`` with the single-page-app fallback;
``views`` answers ``/`` with a landing page while no UI is installed.
"""
