"""Typed configuration: frozen dataclasses loaded from YAML or dicts, validated on creation.

Every model and training stage describes its options as a frozen dataclass deriving from
:class:`Config`. Values are checked twice: against the field's annotated type when built from
a dict (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``tuple[T, ...]``, optional
values and nested configs), and by the class's own ``__post_init__`` for ranges and relations.
Any problem raises :class:`~openfsgan.errors.ConfigError` naming the class and the field; an
unknown key lists the valid ones, so a typo can never be silently ignored.

Example::

    @dataclass(frozen=True)
    class BlendingConfig(Config):
        base_channels: int = 16

        def __post_init__(self) -> None:
            check_positive(self, "base_channels")

    BlendingConfig.from_dict({"base_channels": 8})
    BlendingConfig.from_dict({"base_channel": 8})   # ConfigError: ... valid keys: base_channels
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from openfsgan.errors import ConfigError
from openfsgan.io.atomic import write_text_atomic

__all__ = [
    "Config",
    "check_choice",
    "check_positive",
    "check_range",
    "load_yaml",
    "merge_options",
]

C = TypeVar("C", bound="Config")


class Config:
    """Mix-in for frozen dataclasses: ``from_dict``/``to_dict``, YAML I/O, named presets.

    Subclasses are ``@dataclass(frozen=True)`` classes. ``PRESETS`` maps a preset name to the
    field values that differ from the defaults (``"default"`` is always available).
    """

    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | None = None) -> C:
        """Build and validate a config from plain data (e.g. parsed YAML or JSON).

        Raises:
            ConfigError: an unknown key, a value of the wrong type or out of range.
        """
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__}: expected a mapping of options, got "
                              f"{type(data).__name__}")
        hints = _field_types(cls)
        unknown = sorted(set(map(str, data)) - set(hints))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown option(s) {', '.join(unknown)}; "
                              f"valid keys: {', '.join(hints)}")
        values = {key: _coerce(value, hints[key], f"{cls.__name__}.{key}")
                  for key, value in data.items()}
        try:
            return cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{cls.__name__}: {exc}") from exc

    @classmethod
    def preset(cls: type[C], name: str, **overrides: Any) -> C:
        """The named preset (``"default"`` or one of ``PRESETS``), with ``overrides`` applied."""
        names = ["default", *cls.PRESETS]
        if name not in names:
            raise ConfigError(f"{cls.__name__}: unknown preset {name!r}; valid presets: "
                              f"{', '.join(names)}")
        values = dict(cls.PRESETS.get(name, {}))
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def resolve(cls: type[C], config: C | Mapping[str, Any] | None = None,
                **overrides: Any) -> C:
        """A config from an instance, a mapping of options or ``None`` (defaults), + overrides.

        This is what model constructors accept: ``Model()``, ``Model({"base_channels": 8})``,
        ``Model(config)`` and ``Model(num_scales=3)`` all work.
        """
        if config is None:
            resolved = cls()
        elif isinstance(config, cls):
            resolved = config
        elif isinstance(config, Mapping):
            resolved = cls.from_dict(config)
        else:
            raise ConfigError(f"expected a {cls.__name__} or a mapping of options, got "
                              f"{type(config).__name__}")
        return resolved.replace(**overrides) if overrides else resolved

    @classmethod
    def from_yaml(cls: type[C], path: str | os.PathLike[str]) -> C:
        """Load a config from a YAML file holding a mapping of options."""
        return cls.from_dict(load_yaml(path))

    # -- export -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, lists, scalars) that :meth:`from_dict` turns back into ``self``."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_yaml(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as YAML, atomically."""
        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied and validated like :meth:`from_dict`."""
        values = self.to_dict()
        values.update({key: _plain(value) for key, value in changes.items()})
        return type(self).from_dict(values)


# -- validation helpers used by __post_init__ methods --------------------------------------------


def check_positive(config: object, *names: str, allow_zero: bool = False) -> None:
    """Raise ConfigError unless each named numeric field is > 0 (>= 0 with ``allow_zero``)."""
    for name in names:
        value = getattr(config, name)
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ConfigError(f"{type(config).__name__}.{name} must be {bound}, got {value!r}")


def check_range(config: object, name: str, low: float, high: float) -> None:
    """Raise ConfigError unless ``low <= config.name <= high``."""
    value = getattr(config, name)
    if not low <= value <= high:
        raise ConfigError(f"{type(config).__name__}.{name} must be in [{low}, {high}], "
                          f"got {value!r}")


def check_choice(config: object, name: str, choices: Sequence[Any]) -> None:
    """Raise ConfigError unless ``config.name`` is one of ``choices``."""
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(f"{type(config).__name__}.{name} must be one of "
                          f"{', '.join(map(repr, choices))}; got {value!r}")


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bad YAML or a non-mapping raise ConfigError."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {file} must hold a mapping of options, "
                          f"not {type(data).__name__}")
    return data


def merge_options(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied, nested mappings merged key by key (a YAML file or
    flags overriding a preset change only the options they name)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_options(merged[key], value)
        else:
            merged[key] = value
    return merged


# -- internals -----------------------------------------------------------------------------------


def _field_types(cls: type) -> dict[str, Any]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass to be a Config")
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp``; convert lists to tuples, ints to floats."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{where} must not be null")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{where}: {value!r} matches none of {_type_name(tp)}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, choices))}; "
                              f"got {value!r}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where} must have {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args,
                                                                                  strict=True)))
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping of {tp.__name__} options")
        try:
            return tp.from_dict(value)
        except ConfigError as exc:  # name the place in the tree (``SwapConfig.classic: ...``)
            raise ConfigError(f"{where}: {exc}") from exc
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigError(f"{where} must be {tp.__name__}, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported config annotation {tp!r}")

