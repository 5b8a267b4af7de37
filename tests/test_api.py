"""The HTTP API beside the page, through the clients other programs use: the openai package and curl."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.fake_openai import app_over_fake

REPLY = ["The supply ferry ", "leaves ", "at ", "14:30 ", "[1]."]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ferry.md").write_text("# Ferry\n\nThe supply ferry leaves the harbour at 14:30 every Thursday.\n")
    (folder / "plant.md").write_text("# Plant\n\nThe desalination plant produces 4,000 litres of water per day.\n")
    return folder


def _curl(*args: str) -> tuple[int, dict]:
    done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=120)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body or "{}")


def test_an_openai_client_gets_the_checked_answer_with_its_citations_streamed_or_not(docs: Path, make_rag) -> None:  # noqa: ANN001
    from openai import OpenAI

    with app_over_fake(make_rag, docs, lambda body: REPLY) as (_llm, url):
        client = OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key="none")
        assert len(client.models.list().data) == 1  # one collection served: one "model"
        reply = client.chat.completions.create(model="", messages=[{"role": "user", "content": "When does the ferry leave?"}])
        assert reply.choices[0].message.content == "The supply ferry leaves at 14:30 [1]."
        (citation,) = reply.model_extra["citations"]
        assert citation["source"] == "docs/ferry.md" and citation["page"] == 1 and "14:30" in citation["quote"]
        assert reply.model_extra["abstained"] is False

        chunks = list(client.chat.completions.create(model="", stream=True,
                                                     messages=[{"role": "user", "content": "When does the ferry leave?"}]))
        drafts = [c for c in chunks if c.model_extra.get("draft")]
        assert "".join(c.choices[0].delta.content or "" for c in drafts) == "The supply ferry leaves at 14:30 [1]."
        final = chunks[-1].model_extra["final"]  # the checked answer closes the stream, marked apart from the drafts
        assert chunks[-1].model_extra["draft"] is False and chunks[-1].choices[0].finish_reason == "stop"
        assert final["content"] == "The supply ferry leaves at 14:30 [1]." and final["citations"][0]["source"] == "docs/ferry.md"

        status, found = _curl("-X", "POST", f"{url.rstrip('/')}/v1/search", "-H", "Content-Type: application/json",
                              "-d", json.dumps({"query": "desalination water", "k": 2}))
        assert status == 200 and found["hits"][0]["source"] == "docs/plant.md" and len(found["hits"]) == 2
        status, refused = _curl("-X", "POST", f"{url.rstrip('/')}/v1/search", "-d", json.dumps({"query": "", "k": 2}))
        assert status == 400 and "query" in refused["detail"]


def test_the_api_asks_for_the_pages_login(docs: Path, make_rag) -> None:  # noqa: ANN001
    from openai import AuthenticationError, OpenAI

    with app_over_fake(make_rag, docs, lambda body: REPLY, **{"ui.username": "ana", "ui.password": "s3cret"}) as (_llm, url):
        base = f"{url.rstrip('/')}/v1"
        question = [{"role": "user", "content": "When does the ferry leave?"}]
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=base, api_key="ana:wrong").chat.completions.create(model="", messages=question)
        reply = OpenAI(base_url=base, api_key="ana:s3cret").chat.completions.create(model="", messages=question)
        assert "14:30" in reply.choices[0].message.content
        assert _curl("-X", "POST", f"{base}/search", "-d", json.dumps({"query": "ferry"}))[0] == 401
        assert _curl("-u", "ana:s3cret", "-X", "POST", f"{base}/search", "-d", json.dumps({"query": "ferry"}))[0] == 200
        assert _curl(f"{url.rstrip('/')}/document/anything")[0] == 401  # the document route asks for it too
