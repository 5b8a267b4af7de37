"""The Gradio app, served on 127.0.0.1 and called through its API with gradio_client."""

from pathlib import Path

import pytest

from tests.conftest import free_port


@pytest.fixture(scope="module")
def served(sample_rag):  # noqa: ANN001
    from ui.app import serve

    app, url = serve(sample_rag.with_options({"ui.port": free_port()}), block=False)  # a view: the shared fixture stays as it is
    yield url
    app.close()


@pytest.mark.slow
def test_app_binds_loopback_and_answers_through_its_api(served: str) -> None:
    from gradio_client import Client

    assert served.startswith("http://127.0.0.1:")
    client = Client(served, verbose=False)
    text, citations = client.predict("What is the default value of uplink_window_min?", api_name="/ask")
    assert "20" in text
    assert any(c["source"].endswith("operations-manual.pdf") and c["page"] == 4 for c in citations)


def test_serving_beyond_loopback_needs_auth() -> None:
    from rag.core.errors import RagError
    from ui.app import check_exposure

    assert check_exposure("127.0.0.1", "", "", False) is None
    assert check_exposure("0.0.0.0", "ann", "s3cret", False) == ("ann", "s3cret")
    assert check_exposure("0.0.0.0", "", "", True) is None
    with pytest.raises(RagError, match="--no-auth"):
        check_exposure("0.0.0.0", "", "", False)


def test_upload_names_cannot_escape_the_upload_folder() -> None:
    from ui.app import safe_name

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\windows\\evil.md") == "evil.md"
    assert safe_name('report "final" ü.pdf') == "report _final_ ü.pdf"
    assert safe_name("..") == "upload"


def test_indexed_pdfs_are_served_and_nothing_else(served: str, sample_rag) -> None:  # noqa: ANN001
    import urllib.error
    import urllib.request

    from ui.app import pdf_links

    links = pdf_links(sample_rag)
    url = links["sample_docs/operations-manual.pdf"]
    with urllib.request.urlopen(served.rstrip("/") + url) as response:
        assert response.read(5) == b"%PDF-"
    outside = Path(sample_rag.config.index.path) / "manifest.sqlite3"  # exists, but not under an ingested folder
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served.rstrip("/") + f"/gradio_api/file={outside.resolve()}")
