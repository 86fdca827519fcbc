"""The after-training configs parse with their commands (unknown or mistyped keys are rejected)."""
import pytest
import yaml

from prediction import evaluate_command as evaluate
from prediction import command as predict
from serving import command as serve
from ensemble.__main__ import build_parser as ensemble_parser

CONFIGS = "configs/after_training"


@pytest.mark.parametrize("name, parser, extra", [
    ("evaluate", evaluate.build_parser, ["--model", "m.ckpt"]),
    ("ensemble", ensemble_parser, []),
    ("predict", predict.build_parser, ["--model", "m.ckpt", "--inputs", "a.wav"]),
    ("serve", serve.build_parser, ["--model", "m.ckpt"]),
])
def test_config_parses_and_every_key_reaches_the_command(name, parser, extra, tmp_path):
    path = f"{CONFIGS}/{name}.yaml"
    config = parser().parse_args(["--config", path, *extra])
    for key, value in yaml.safe_load(open(path)).items():
        parsed = config[key]
        assert (parsed.as_dict() if hasattr(parsed, "as_dict") else parsed) == value, key
    broken = tmp_path / "broken.yaml"
    broken.write_text(open(path).read() + "\nbatch_sise: 3\n")
    with pytest.raises(SystemExit):
        parser().parse_args(["--config", str(broken), *extra])
