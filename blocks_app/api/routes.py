"""The blocks app's viewsets on the API router."""

from rest_framework.routers import SimpleRouter

from blocks_app.api.variables import VariableViewSet
from blocks_app.api.views import BlockCapabilityViewSet, BlockDocumentViewSet, BlockSchemaViewSet, BlockTypeViewSet


def register(router: SimpleRouter) -> None:
    """Add this app's resources to the API router."""
    router.register("block_types", BlockTypeViewSet, basename="block_types")
    router.register("block_schemas", BlockSchemaViewSet, basename="block_schemas")
    router.register("block_documents", BlockDocumentViewSet, basename="block_documents")
    router.register("block_capabilities", BlockCapabilityViewSet, basename="block_capabilities")
    router.register("variables", VariableViewSet, basename="variables")
