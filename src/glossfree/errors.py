"""Exceptions raised for bad user input. Each message names the file (and line or key) at fault."""


class GlossfreeError(Exception):
    """Base class for errors caused by user input (files, configs, CLI flags)."""


class ConfigError(GlossfreeError):
    """A recipe/config file or value is invalid."""


class DataError(GlossfreeError):
    """A data file (manifest, pose, video, features) is missing or malformed."""
