"""config/schema.yaml accepts every configuration the suite ships and refuses an unknown key,
naming it (a misspelt key would otherwise be ignored and its default used silently)."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "config" / "schema.yaml")
OVERLAYS = [None, "config/paper.yaml", ".test/config.yaml"]


def load(overlay=None) -> dict:
    """config/config.yaml with an overlay deep-merged over it, as --configfile does."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if overlay:
        update_config(config, yaml.safe_load((ROOT / overlay).read_text()))
    return config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shipped_configurations_validate(overlay):
    validate(load(overlay), SCHEMA)


def test_every_object_of_the_schema_refuses_unknown_keys():
    def objects(node, where="schema"):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield where, node
            for key, value in node.items():
                yield from objects(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from objects(value, f"{where}[{i}]")

    found = list(objects(yaml.safe_load(Path(SCHEMA).read_text())))
    assert len(found) >= 12
    # closed, or a map whose keys are constrained by name (e.g. peak TFLOPS per device tag)
    open_ = [where for where, node in found
             if node.get("additionalProperties") is not False and "propertyNames" not in node]
    assert not open_, f"objects accepting any key: {open_}"


@pytest.mark.parametrize("section, key", [(None, "figure_dir"), ("train", "stpes"),
                                          ("evaluate", "umap_datset"), ("train.stress", "secs"),
                                          ("kernel.resources", "archs")])
def test_a_misspelt_key_is_refused_with_its_name(section, key):
    config = copy.deepcopy(load())
    node = config
    for part in section.split(".") if section else []:
        node = node[part]
    node[key] = 1
    with pytest.raises(WorkflowError) as err:
        validate(config, SCHEMA)
    message = str(err.value)
    assert f"'{key}' was unexpected" in message
    assert "Additional properties are not allowed" in message
