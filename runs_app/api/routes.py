"""The runs app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
