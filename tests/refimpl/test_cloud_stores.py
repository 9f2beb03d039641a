"""AzureStore and GCSStore without a server: URLs, credential chains, refused keys, missing SDKs.

Nothing here sends a request (the emulator tests are tests/slow/test_azure.py and
test_gcs.py); where a credential chain could reach out to a cloud's metadata service,
that step is replaced.
"""

from __future__ import annotations

import sys

import pytest

from pubsafe.refimpl import open_store
from pubsafe.refimpl.errors import InvalidInput, InvalidKey

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_AZURE_VARS = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT",
               "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN")


@pytest.fixture
def azure_env(monkeypatch):
    pytest.importorskip("azure.storage.blob")
    for name in _AZURE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("account_var", "key_var"), [("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"),
                                                      ("AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY")])
def test_azure_account_and_key_from_the_environment(azure_env, account_var, key_var):
    azure_env.setenv(account_var, "acmeartifacts")
    azure_env.setenv(key_var, AZURITE_KEY)
    store = open_store("az://models/prod/")
    assert store.root_uri == "az://models/prod"
    assert store._client.url.startswith("https://acmeartifacts.blob.core.windows.net/models")


def test_azure_connection_string_wins_and_names_the_endpoint(azure_env):
    azure_env.setenv("AZURE_STORAGE_ACCOUNT_NAME", "ignored")
    azure_env.setenv("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                     f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;")
    assert open_store("az://c1/p")._client.url.startswith("http://127.0.0.1:1/devstoreaccount1/c1")


def test_azure_without_an_account_says_which_variables_to_set(azure_env):
    with pytest.raises(InvalidInput, match="AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME"):
        open_store("az://c1/p")


def test_azure_without_a_key_and_without_azure_identity_says_what_to_install(azure_env):
    azure_env.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acmeartifacts")
    azure_env.setitem(sys.modules, "azure.identity", None)  # as if not installed
    with pytest.raises(InvalidInput, match=r"needs azure-identity: pip install 'pubsafe\[azure\]'"):
        open_store("az://c1/p")


@pytest.mark.parametrize("url", ["az://", "az:///prefix", "az://container@account/p"])
def test_azure_urls_without_a_container_are_refused(azure_env, url):
    with pytest.raises(InvalidInput, match="az://container/prefix"):
        open_store(url)


@pytest.mark.parametrize("key", ["acme./home/m.json", "records/acme/home./model/v.json", "a/b."])
def test_azure_refuses_keys_the_service_would_shorten(azure_env, key):
    # a closed loopback port: were a key let through, the request would fail at once, here
    azure_env.setenv("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                     f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;")
    store = open_store("az://c1/p", retry_total=0)
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.replace(key, b"x")):
        with pytest.raises(InvalidKey, match="drops a trailing dot"):
            call()


@pytest.mark.parametrize(("scheme", "module", "extra"), [("az", "azure.core", "azure"),
                                                         ("gs", "google.cloud.storage", "gcs")])
def test_a_missing_sdk_says_which_extra_to_install(monkeypatch, scheme, module, extra):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(InvalidInput, match=rf"pip install 'pubsafe\[{extra}\]'"):
        open_store(f"{scheme}://bucket/p")


@pytest.fixture
def gcs_env(monkeypatch, tmp_path):
    pytest.importorskip("google.cloud.storage")
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud login here
    return monkeypatch


def test_gcs_without_credentials_says_how_to_provide_them(gcs_env):
    import google.auth._default

    # the last link of the chain asks the metadata server of a Google Cloud VM: not from a test
    gcs_env.setattr(google.auth._default, "_get_gce_credentials", lambda *args, **kwargs: (None, None))
    with pytest.raises(InvalidInput, match="GOOGLE_APPLICATION_CREDENTIALS.*STORAGE_EMULATOR_HOST"):
        open_store("gs://bucket/p")


def test_gcs_emulator_host_needs_no_credentials(gcs_env):
    gcs_env.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    store = open_store("gcs://bucket/p/q/")
    assert store.root_uri == "gs://bucket/p/q"


def test_gcs_url_without_a_bucket_is_refused(gcs_env):
    gcs_env.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    with pytest.raises(InvalidInput, match="gs://bucket/prefix"):
        open_store("gs:///p")
