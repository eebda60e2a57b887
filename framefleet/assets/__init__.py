"""Getting a spec's sources onto local disk: paths, ``file://``, ``https://``, ``s3://``, with a shared cache."""

from framefleet.assets.fetch import Fetcher

__all__ = ["Fetcher"]
