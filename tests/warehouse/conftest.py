import pytest

from helpers.moto_s3 import CREDENTIALS, moto_server, new_bucket
from helpers.seaweed_s3 import seaweed_server


@pytest.fixture(scope="session")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def seaweed_endpoint():
    with seaweed_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_endpoint(moto_endpoint) -> str:
    """The S3 server the `s3_warehouse_url` tests talk to (moto; a module may override it)."""
    return moto_endpoint


@pytest.fixture
def s3_warehouse_url(s3_endpoint, monkeypatch) -> str:
    """`s3://<fresh bucket>/wh` on the loopback moto server, with the standard AWS settings
    (endpoint and credentials) in the environment, as a team would set them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return f"s3://{new_bucket(s3_endpoint)}/wh"
