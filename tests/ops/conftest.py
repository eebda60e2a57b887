from tests.fleet.conftest import (  # noqa: F401 - the fleet's real parts, shared
    bucket,
    fleet_env,
    receiver,
    redis_server,
    redis_url,
    s3_endpoint,
    workers,
)
