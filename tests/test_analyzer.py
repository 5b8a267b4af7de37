from rag.core.analyzer import tokenize


def test_identifiers_split_and_kept_whole() -> None:
    tokens = tokenize("Set max_dwell_hours in getUserName via os.path.join for part KX-4471")
    for whole in ("max_dwell_hours", "getusername", "os.path.join", "kx-4471"):
        assert whole in tokens
    for part in ("dwell", "user", "path", "4471"):
        assert part in tokens


def test_stop_words_dropped_and_words_stemmed() -> None:
    assert tokenize("The pumps were running in the rooms") == ["pump", "run", "room"]
    assert tokenize("running") == tokenize("runs")
