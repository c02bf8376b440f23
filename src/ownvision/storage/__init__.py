"""Blob storage: a small protocol, the local filesystem by default, chosen by URL scheme."""

from .base import BlobNotFound, BlobStore, open_blob_store

__all__ = ["BlobNotFound", "BlobStore", "open_blob_store"]
