"""Typed configs: dict/YAML round trips, type checks, unknown keys, presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from openfsgan.config import Config, check_positive, load_yaml
from openfsgan.errors import ConfigError


@dataclass(frozen=True)
class InnerConfig(Config):
    size: int = 4


@dataclass(frozen=True)
class ExampleConfig(Config):
    PRESETS: ClassVar = {"small": {"channels": 2}}

    channels: int = 8
    rate: float = 0.5
    enabled: bool = True
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    label: str | None = None
    inner: InnerConfig = InnerConfig()

    def __post_init__(self) -> None:
        check_positive(self, "channels")


def test_round_trip_through_dict_and_yaml(tmp_path):
    config = ExampleConfig(channels=3, rate=2.0, sizes=(4, 5, 6), label="x",
                           inner=InnerConfig(size=9))
    assert ExampleConfig.from_dict(config.to_dict()) == config
    config.to_yaml(tmp_path / "c.yaml")
    assert ExampleConfig.from_yaml(tmp_path / "c.yaml") == config
    assert config.to_dict()["sizes"] == [4, 5, 6]


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown option\(s\) chanels; valid keys: channels, "
                                          r"rate"):
        ExampleConfig.from_dict({"chanels": 3})


@pytest.mark.parametrize(("data", "message"), [
    ({"channels": "8"}, "ExampleConfig.channels must be an integer"),
    ({"channels": True}, "must be an integer"),
    ({"rate": "fast"}, "must be a number"),
    ({"enabled": 1}, "must be true or false"),
    ({"mode": "c"}, "must be one of 'a', 'b'"),
    ({"sizes": [1, "2"]}, r"sizes\[1\] must be an integer"),
    ({"inner": {"size": 1, "extra": 2}}, "InnerConfig: unknown option"),
    ({"channels": 0}, "ExampleConfig.channels must be > 0"),
])
def test_invalid_values_raise_config_error(data, message):
    with pytest.raises(ConfigError, match=message):
        ExampleConfig.from_dict(data)


def test_ints_become_floats_and_lists_tuples():
    config = ExampleConfig.from_dict({"rate": 1, "sizes": [3]})
    assert isinstance(config.rate, float) and config.sizes == (3,)


def test_presets_and_overrides():
    assert ExampleConfig.preset("small").channels == 2
    assert ExampleConfig.preset("small", rate=0.1).rate == 0.1
    assert ExampleConfig.preset("default") == ExampleConfig()
    with pytest.raises(ConfigError, match="valid presets: default, small"):
        ExampleConfig.preset("huge")


def test_replace_and_resolve_validate():
    assert ExampleConfig().replace(channels=4).channels == 4
    with pytest.raises(ConfigError):
        ExampleConfig().replace(channels=-1)
    assert ExampleConfig.resolve({"channels": 5}, rate=1.0) == ExampleConfig(channels=5, rate=1.0)
    with pytest.raises(ConfigError, match="expected a ExampleConfig or a mapping"):
        ExampleConfig.resolve(42)  # type: ignore[arg-type]


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_yaml(tmp_path / "empty.yaml") == {}


@dataclass(frozen=True)
class PairConfig(Config):
    betas: tuple[float, float] = (0.5, 0.999)


def test_fixed_length_tuples_load_from_lists():
    assert PairConfig.from_dict({"betas": [0, 0.9]}).betas == (0.0, 0.9)
    with pytest.raises(ConfigError, match="must have 2 items"):
        PairConfig.from_dict({"betas": [0.1]})
    with pytest.raises(ConfigError, match=r"betas\[1\] must be a number"):
        PairConfig.from_dict({"betas": [0.1, "x"]})
