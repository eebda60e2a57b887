"""Where results go: a folder (``file://``) or object storage (``s3://``: AWS, MinIO, R2)."""

from framefleet.storage.base import Storage, Stored, open_storage

__all__ = ["Storage", "Stored", "open_storage"]
