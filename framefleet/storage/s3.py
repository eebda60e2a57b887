"""Results in S3 or any S3-compatible store (MinIO, R2) through boto3.

Large files go up in parallel multipart chunks (boto3's transfer manager); result URLs are presigned
for ``FRAMEFLEET_URL_TTL`` seconds. Credentials come from boto3's usual chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from framefleet.errors import Canceled, FetchError, StorageError, StorageRefused
from framefleet.flags import Flag
from framefleet.storage.base import Storage, Stored

MULTIPART_THRESHOLD = 16 * 1024 * 1024
#: Error codes that may pass on their own (throttling, a server hiccup, credentials about to be refreshed);
#: every other 4xx (no such bucket, access denied, an invalid bucket name or key) stays as it is.
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
                    "ExpiredToken", "TokenRefreshRequired", "InternalError", "ServiceUnavailable",
                    "RequestLimitExceeded", "OperationAborted"}


def _failed(message: str, exc: BaseException) -> StorageError:
    """Classify a boto3 failure: :class:`StorageRefused` when retrying cannot help, else :class:`StorageError`.

    Connection errors, timeouts, 5xx and throttling are transient; a 4xx answer or a request botocore
    refuses to build (an invalid bucket name, an empty key) is permanent."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    cause: BaseException = exc
    if not isinstance(exc, (ClientError, BotoCoreError)):  # boto3's S3UploadFailedError wraps the real one
        cause = exc.__cause__ or exc.__context__ or exc
    if isinstance(cause, ParamValidationError):
        return StorageRefused(f"{message}: object storage refused the request (not retried)", detail=str(exc))
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code.isdigit() and not status:
            status = int(code)
        if code not in _TRANSIENT_CODES and 400 <= status < 500 and status not in (408, 429):
            return StorageRefused(f"{message}: object storage refused it ({code or status}; not retried)",
                                  detail=str(exc))
    return StorageError(message, detail=str(exc))


class _Canceling:
    """A file the transfer reads through, which stops reading once the job is canceled.

    Raising from a read ends the transfer (a multipart upload is aborted, so nothing half-made is
    stored), and the file stays ours to close; a progress callback that raises would leave it open."""

    def __init__(self, raw: BinaryIO, cancel: Flag | None) -> None:
        self.raw, self.cancel = raw, cancel

    def read(self, size: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise Canceled("the job was canceled")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        """The transfer closes what it reads; the file itself is closed by whoever opened it."""


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, url_ttl: int = 86400,
                 client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.url_ttl = url_ttl
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("s3", endpoint_url=self.endpoint_url,
                                        config=Config(signature_version="s3v4",
                                                      retries={"max_attempts": 5, "mode": "standard"}))
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, path: Path, key: str, *, content_type: str, cancel: Flag | None = None) -> Stored:
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        try:
            with path.open("rb") as raw:
                self.client.upload_fileobj(_Canceling(raw, cancel), self.bucket, self._key(key),
                                           ExtraArgs={"ContentType": content_type}, Config=config)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise _failed("result could not be uploaded", exc) from None
        return Stored(key, self.url(key), path.stat().st_size, content_type)

    def get(self, key: str, target: Path) -> Path:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, self._key(key), str(target))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                raise FetchError("not found") from None
            raise _failed("object storage failed", exc) from None
        except BotoCoreError as exc:
            raise _failed("object storage failed", exc) from None
        return target

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _failed("object storage failed", exc) from None
        except BotoCoreError as exc:
            raise _failed("object storage failed", exc) from None
        return True

    def delete_prefix(self, prefix: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        full = self._key(prefix.rstrip("/") + "/")
        count = 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                    count += len(keys)
        except (ClientError, BotoCoreError) as exc:
            raise _failed("object storage failed", exc) from None
        return count

    def url(self, key: str) -> str:
        return str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=self.url_ttl))

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(".framefleet-ready"), Body=b"ok")
        except (ClientError, BotoCoreError) as exc:
            raise _failed("object storage is not writable", exc) from None
