"""ownvision: a self-hosted server that speaks the Azure Custom Vision API."""

__version__ = "0.1.0"
