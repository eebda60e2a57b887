"""Result storage against moto's S3 server over HTTP, and a local folder."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from framefleet.config import Settings
from framefleet.errors import FetchError
from framefleet.storage import open_storage
from tests.flagtools import SetAfter


def test_s3_put_presign_get_and_overwrite(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    storage = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": f"s3://{bucket}/out",
                                              "FRAMEFLEET_S3_ENDPOINT_URL": s3_endpoint, "FRAMEFLEET_URL_TTL": "600"}))
    source = tmp_path / "a.mp4"
    source.write_bytes(b"first")
    stored = storage.put(source, "acme/job1/output.mp4", content_type="video/mp4")
    assert "X-Amz-Expires=600" in stored.url and stored.size_bytes == 5
    with urllib.request.urlopen(stored.url) as response:  # the presigned URL works over HTTP
        assert response.read() == b"first" and response.headers["Content-Type"] == "video/mp4"
    source.write_bytes(b"second")
    storage.put(source, "acme/job1/output.mp4", content_type="video/mp4")
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys.count("out/acme/job1/output.mp4") == 1  # a re-run overwrites
    assert storage.get("acme/job1/output.mp4", tmp_path / "back").read_bytes() == b"second"
    with pytest.raises(FetchError):
        storage.get("acme/nope", tmp_path / "x")
    storage.check()


def test_s3_multipart_for_large_files(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    storage = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": f"s3://{bucket}",
                                              "FRAMEFLEET_S3_ENDPOINT_URL": s3_endpoint}))
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (40 * 1024 * 1024))
    storage.put(big, "big.bin", content_type="application/octet-stream")
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 40 * 1024 * 1024 and "-" in head["ETag"]  # a multipart ETag


def test_local_storage(tmp_path: Path) -> None:
    storage = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results"}))
    source = tmp_path / "a.txt"
    source.write_text("hi")
    stored = storage.put(source, "t/j/output.txt", content_type="text/plain")
    assert stored.url.startswith("file://") and (tmp_path / "results/t/j/output.txt").read_text() == "hi"


@pytest.mark.parametrize("kind", ["s3", "local"])
def test_exists_and_delete_prefix_remove_only_that_job_s_chunks(kind: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    if kind == "s3":
        endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
        env = {"FRAMEFLEET_STORAGE_URL": f"s3://{bucket}/out", "FRAMEFLEET_S3_ENDPOINT_URL": endpoint}
    else:
        env = {"FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results"}
    storage = open_storage(Settings.from_env(env))
    source = tmp_path / "c.mp4"
    source.write_bytes(b"chunk")
    for key in ("t/j1/chunks/0.mp4", "t/j1/chunks/1.mp4", "t/j1/output.mp4", "t/j10/chunks/0.mp4"):
        storage.put(source, key, content_type="video/mp4")
    assert storage.exists("t/j1/chunks/1.mp4") and not storage.exists("t/j1/chunks/2.mp4")
    assert storage.delete_prefix("t/j1/chunks") == 2
    assert not storage.exists("t/j1/chunks/0.mp4") and not storage.exists("t/j1/chunks/1.mp4")
    assert storage.exists("t/j1/output.mp4") and storage.exists("t/j10/chunks/0.mp4")  # a sibling prefix stays
    assert storage.delete_prefix("t/j1/chunks") == 0


def test_s3_refusals_are_permanent_and_outages_transient(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    from framefleet.errors import StorageError, StorageRefused

    source = tmp_path / "a.mp4"
    source.write_bytes(b"x")
    for name in ("no-such-bucket-here", "Invalid_Bucket_Name!"):
        storage = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": f"s3://{name}/out",
                                                  "FRAMEFLEET_S3_ENDPOINT_URL": s3_endpoint}))
        with pytest.raises(StorageRefused) as refused:
            storage.put(source, "acme/j1/output.mp4", content_type="video/mp4")
        assert not refused.value.transient and "not retried" in refused.value.message
    down = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": f"s3://{bucket}/out",
                                           "FRAMEFLEET_S3_ENDPOINT_URL": "http://127.0.0.1:9"}),
                        s3_client=boto3.client("s3", endpoint_url="http://127.0.0.1:9",
                                               config=Config(retries={"max_attempts": 1})))
    with pytest.raises(StorageError) as outage:
        down.put(source, "acme/j1/output.mp4", content_type="video/mp4")
    assert outage.value.transient


@pytest.mark.parametrize("where", ["s3", "local"])
def test_a_cancel_mid_upload_stores_nothing(where: str, tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    from framefleet.errors import Canceled

    url = f"s3://{bucket}/out" if where == "s3" else f"file://{tmp_path}/results"
    storage = open_storage(Settings.from_env({"FRAMEFLEET_STORAGE_URL": url,
                                              "FRAMEFLEET_S3_ENDPOINT_URL": s3_endpoint}))
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (40 * 1024 * 1024))  # three parts of a multipart upload
    flag = SetAfter(1)
    with pytest.raises(Canceled):
        storage.put(big, "acme/job1/output.mp4", content_type="video/mp4", cancel=flag)
    assert flag.seen > 1  # it stopped because of the flag, part-way
    assert not storage.exists("acme/job1/output.mp4")
    if where == "s3":
        s3 = boto3.client("s3", endpoint_url=s3_endpoint)
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # the parts were given up
    else:
        assert [p for p in (tmp_path / "results").rglob("*") if p.is_file()] == []
