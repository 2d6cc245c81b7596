"""The suite's configuration read from Python, exactly as the DAG reads it.

Snakemake loads ``config/config.yaml`` (plus ``--configfile`` overlays, deep-merged in order) and
validates it against ``config/schema.yaml``, which fills in every default. Entry points that run
without Snakemake (the scripts under ``gpu/`` on a machine that has no Snakemake) call
:func:`load_config` with the same files, so a value changed in ``config/config.yaml`` is the value
both use; they never re-type a setting.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from pathlib import Path

import yaml

SCHEMA = "config/schema.yaml"


def deep_merge(base: dict, overlay: dict) -> dict:
    """``overlay`` merged into a copy of ``base`` (nested dicts merged, everything else replaced),
    as Snakemake merges ``--configfile`` overlays."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _validator(schema: dict):
    """A jsonschema validator that also writes each property's ``default`` into the instance."""
    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)

    cls = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return cls(schema)


def validate(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` in place against the schema, filling in defaults; returns it."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(_validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.path)) or '(top level)'}: {e.message}" for e in errors]
        raise ValueError(f"configuration does not match {schema_path}:\n" + "\n".join(lines))
    return config


def load_config(path: str | Path = "config/config.yaml", overlays=(),
                schema_path: str | Path = SCHEMA) -> dict:
    """The validated configuration: ``path`` with ``overlays`` deep-merged in order."""
    config = {}
    for file in (path, *overlays):
        file = Path(file)
        if not file.exists():
            raise FileNotFoundError(f"config file {file} not found (run from the repository root or "
                                    "give its path).")
        config = deep_merge(config, yaml.safe_load(file.read_text()) or {})
    return validate(config, schema_path)


def config_parser(argv=None, **parser_args) -> tuple[dict, argparse.ArgumentParser]:
    """For a command-line front-end whose defaults are configuration values: the validated
    configuration that ``--config`` (default config/config.yaml) and ``--configfile`` overlays in
    ``argv`` name, and a parser that already has those two options. The front-end adds its own
    options with defaults read from the configuration, so it never repeats a value of it."""
    base = argparse.ArgumentParser(add_help=False)
    base.add_argument("--config", default="config/config.yaml",
                      help="the configuration file (validated against config/schema.yaml)")
    base.add_argument("--configfile", action="append", default=[], help="overlay, as in snakemake")
    known, _ = base.parse_known_args(argv)
    return load_config(known.config, known.configfile), argparse.ArgumentParser(parents=[base], **parser_args)


def fingerprint(section: dict) -> str:
    """Short hash of a config section: results record which settings produced them."""
    text = json.dumps(section, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
