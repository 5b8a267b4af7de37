from pathlib import Path

import pytest

from rag.core.config import Config, load_config, write_toml
from rag.core.errors import ConfigError


def test_precedence_defaults_toml_env_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "rag.toml"
    toml.write_text('[retrieval]\nmode = "bm25"\nk = 7\n[generate]\nmax_tokens = 100\n')
    env = {"RAG_RETRIEVAL_K": "9", "RAG_GENERATE_TEMPERATURE": "0.5"}
    config = load_config(toml, {"retrieval.mode": "dense"}, environ=env)
    assert config.retrieval.mode == "dense"  # explicit override beats the file
    assert config.retrieval.k == 9  # env beats the file
    assert config.generate.max_tokens == 100  # file beats the default
    assert config.generate.temperature == 0.5
    assert config.chunk.size == Config().chunk.size


def test_bad_keys_and_values_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'retrieval.mdoe'"):
        Config().override({"retrieval.mdoe": "bm25"})
    with pytest.raises(ConfigError, match="retrieval.k must be int"):
        Config().override({"retrieval.k": "many"})


def test_toml_round_trip_keeps_only_changes(tmp_path: Path) -> None:
    config = Config().override({"retrieval.k": 5, "generate.abstain_text": 'No "such" thing.'})
    path = tmp_path / "out.toml"
    write_toml(config, path)
    assert load_config(path, environ={}) == config
    assert "chunk" not in path.read_text()
