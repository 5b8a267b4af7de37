"""Nothing leaks, nothing is overwritten: secrets, links out of a folder, same-named folders and uploads, archive
bombs, values that make no sense."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rag.cli import main
from rag.core.config import Config, load_config, write_toml
from rag.core.errors import ConfigError


def test_saved_settings_never_hold_logins_or_keys(tmp_path: Path) -> None:
    config = load_config(None, {"ui.username": "ann", "ui.password": "s3cret", "generate.api_key": "sk-1",
                                "index.chroma_token": "tok", "retrieval.k": "7"}, environ={})
    write_toml(config, tmp_path / "rag.toml")
    text = (tmp_path / "rag.toml").read_text()
    assert "k = 7" in text and "s3cret" not in text and "ann" not in text and "sk-1" not in text and "tok" not in text


@pytest.mark.parametrize("key, value", [("chunk.size", "-5"), ("chunk.size", "0"), ("chunk.overlap", "-1"),
                                        ("chunk.overlap", "900"), ("retrieval.dense_weight", "nan"), ("retrieval.k", "-3"),
                                        ("ui.port", "99999"), ("rerank.mix", "1.5"), ("chunk.size", True)])
def test_values_that_make_no_sense_are_refused_when_given(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key.split(".")[1]):
        Config().override({key: value})


def test_the_command_line_refuses_them_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything", "--index", str(tmp_path / "idx"), "-o", "chunk.size=-5"]) == 2
    assert "chunk.size must be at least 50" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", "anything", "--index", str(tmp_path / "idx"), "--k", "-3"])
    assert "must be at least 1" in capsys.readouterr().err
    assert main(["serve", "--index", str(tmp_path / "idx"), "--port", "99999"]) == 2
    assert "ui.port must be a port number" in capsys.readouterr().err


def test_links_out_of_the_folder_are_skipped_unless_asked_for(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("The vault code is 7734.\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The ferry leaves at 14:30.\n")
    (docs / "secret.txt").symlink_to(secret)
    (docs / "linked").symlink_to(secret.parent, target_is_directory=True)
    (docs / "inside.txt").symlink_to(docs / "notes.txt")  # a link within the folder is fine
    rag = make_rag(**{"rerank.method": "none"})
    outcome = {f.path: (f.status, f.reason) for f in rag.ingest(docs, progress=False).files}
    assert outcome["docs/secret.txt"][0] == "skipped" and "outside the folder" in outcome["docs/secret.txt"][1]
    assert outcome["docs/linked"][0] == "skipped"
    assert outcome["docs/notes.txt"][0] == "added" and outcome["docs/inside.txt"][0] == "added"
    assert not any("7734" in h.chunk.text for h in rag.search("vault code", 5))
    following = make_rag(**{"rerank.method": "none", "index.follow_links": "true"})
    following.ingest(docs, progress=False)
    assert any("7734" in h.chunk.text for h in following.search("vault code", 5))


def test_folders_of_the_same_name_do_not_overwrite_each_other(tmp_path: Path, make_rag) -> None:  # noqa: ANN001
    for team, text in (("A", "Team A spent 1,200 euros."), ("B", "Team B spent 3,400 euros.")):
        (tmp_path / team / "reports").mkdir(parents=True)
        (tmp_path / team / "reports" / "summary.txt").write_text(text + "\n")
    rag = make_rag(**{"rerank.method": "none"})
    first = rag.ingest(tmp_path / "A" / "reports", progress=False)
    second = rag.ingest(tmp_path / "B" / "reports", progress=False)
    assert [f.status for f in first.files] == ["added"] and [f.status for f in second.files] == ["added"]
    sources = sorted(d.source for d in rag.documents())
    assert sources == ["B/reports/summary.txt", "reports/summary.txt"]
    texts = {h.chunk.text.strip() for h in rag.search("team spent euros", 5)}
    assert {"Team A spent 1,200 euros.", "Team B spent 3,400 euros."} <= texts
    assert [f.status for f in rag.ingest(tmp_path / "A" / "reports", progress=False).files] == ["unchanged"]


def test_uploads_never_overwrite_a_different_file(tmp_path: Path) -> None:
    from ui.files import safe_name, store_upload

    first, second = tmp_path / "memo (2).txt", tmp_path / "memo [2].txt"
    first.write_text("first memo\n")
    second.write_text("second memo\n")
    uploads = tmp_path / "uploads"
    a = store_upload(first, uploads, safe_name(first.name))
    b = store_upload(second, uploads, safe_name(second.name))
    assert a != b and a.read_text() == "first memo\n" and b.read_text() == "second memo\n"
    assert store_upload(first, uploads, safe_name(first.name)) == a  # the same file again is not copied twice
    assert len(list(uploads.iterdir())) == 2


def test_an_archive_bomb_is_refused_before_it_unpacks(tmp_path: Path) -> None:
    from ingest.loaders import load
    from rag.core.errors import IngestError

    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:t>" + "A" * (20 * 2**20) + "</w:t>")  # 20 MiB of one letter
    assert bomb.stat().st_size < 200_000
    with pytest.raises(IngestError, match="zip bomb"):
        load(bomb)


def test_a_malformed_question_file_names_the_line_and_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "questions.jsonl"
    bad.write_text('{"id": "q1", "question": "Where?", "source": "a.md", "page": 1}\n{"id": "q2", "question": \n')
    assert main(["eval", str(bad), "--index", str(tmp_path / "idx")]) == 2
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err
    bad.write_text('{"id": "q1", "source": "a.md", "page": 1}\n')
    assert main(["eval", str(bad), "--index", str(tmp_path / "idx")]) == 2
    assert f"{bad}:1: missing 'question'" in capsys.readouterr().err
