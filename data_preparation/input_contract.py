"""InputContract: what a model was trained on, saved in its checkpoint.

A model's scores are only meaningful for inputs shaped as in training: the same sample rate,
the same clip length, zero or repetitive padding, the same deterministic crop of long clips,
waveforms or the same precomputed log-mel. The datamodule writes this record
(``ShardDataModule.input_contract``), train.py links it into ``EmotionClassifier``'s
hyperparameters (so every checkpoint carries it, as plain JSON-like values that
``torch.load(weights_only=True)`` reads), and evaluate.py, predict.py, serve.py, the ensemble and
export read it back instead of asking the user to repeat the training settings. Their flags
(``--max_seconds``, ``--pad_to_seconds``, ``--padding``, ``--eval_crop``) are explicit overrides
(``InputOverrides``) that default to the record.

The module sits low in the layer order (it imports nothing of the project) so that datamodules,
lightning_modules, evaluation, prediction and export can all read it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Mapping, TypeVar

CONTRACT_VERSION = 1
HPARAM_KEY = "input_contract"  # EmotionClassifier's init argument / hyperparameter
PADDINGS = ("zero", "repeat")
CROPS = ("center", "start")
FEATURES = ("waveform", "logmel")
LOGMEL_KEYS = ("n_mels", "n_fft", "hop_length")  # the settings a log-mel model depends on
Count = TypeVar("Count")  # an int, or an integer tensor of counts


def centred_frames(samples: Count, hop_length: int) -> Count:
    """Frames of ``samples`` under centred framing (``torch.stft(center=True)``): ``samples // hop + 1``.

    Precomputed log-mel shards, the on-device front-ends and the contract's clip size all count
    frames by this one rule, so a model fed either sees the same frames; on a tensor of valid
    sample counts it gives the valid frame counts (a frame is valid if centred on a valid sample).

    >>> centred_frames(16000, 160)
    101
    """
    return samples // hop_length + 1


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"input contract: {name}={value!r} is not one of {', '.join(choices)}")


@dataclass(frozen=True)
class InputContract:
    """The input form a model was trained on.

    >>> c = InputContract(16000, 1.5, "repeat", "center", class_names=("a", "b"))
    >>> c.clip_size, c.describe()
    (24000, '16000 Hz, 1.5 s clips, repeat padding, center crop, waveform')
    >>> InputContract.from_dict(c.to_dict()) == c
    True
    """

    sample_rate: int  # Hz of the audio the model consumes
    clip_seconds: float  # every training clip was cropped / padded to this length
    padding: str  # "zero" (true lengths kept) or "repeat" (tiled; the whole clip is valid)
    eval_crop: str  # how validation/test cropped longer clips: "center" or "start"
    features: str = "waveform"  # "waveform" or "logmel" (precomputed log-mel shards)
    logmel: dict[str, Any] | None = None  # n_mels, n_fft, hop_length, ... of those shards (features="logmel")
    class_names: tuple[str, ...] = ()  # in logit order
    taxonomy: str = ""  # stats.json's taxonomy name
    version: int = CONTRACT_VERSION
    # evaluation clips cropped (eval_crop) / padded to this length and scored as the mean probability
    # over clip_seconds windows at half-window hops (lightning_modules/window_scores.py); None: one
    # clip_seconds crop. Kept out of to_dict() when None, so such contracts read as they always did.
    eval_seconds: float | None = None

    def __post_init__(self) -> None:
        _check_choice("padding", self.padding, PADDINGS)
        _check_choice("eval_crop", self.eval_crop, CROPS)
        _check_choice("features", self.features, FEATURES)
        if self.sample_rate <= 0 or not self.clip_seconds > 0:
            raise ValueError(f"input contract: sample_rate={self.sample_rate} and clip_seconds={self.clip_seconds} "
                             "must be positive")
        if self.eval_seconds is not None and (self.features != "waveform" or not self.eval_seconds > self.clip_seconds):
            raise ValueError(f"input contract: eval_seconds={self.eval_seconds} needs waveform features and a length "
                             f"above clip_seconds={self.clip_seconds} (it scores clip_seconds windows of each clip)")
        if self.features == "logmel" and not all(k in (self.logmel or {}) for k in LOGMEL_KEYS):
            raise ValueError(f"input contract: features='logmel' needs logmel settings {LOGMEL_KEYS}, got {self.logmel}")
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @property
    def hop_length(self) -> int:
        return int(self.logmel["hop_length"]) if self.features == "logmel" else 1

    def size_of(self, seconds: float) -> int:
        """Samples (waveform) or frames (log-mel: centred frames, samples // hop + 1) of ``seconds``."""
        samples = int(round(seconds * self.sample_rate))
        return samples if self.features == "waveform" else centred_frames(samples, self.hop_length)

    @property
    def clip_size(self) -> int:
        """Samples or frames per training clip, exactly as the datamodule crops and pads."""
        return self.size_of(self.clip_seconds)

    @property
    def eval_clip_seconds(self) -> float:
        """The length evaluation crops and pads clips to: ``eval_seconds``, else the training clip length."""
        return self.clip_seconds if self.eval_seconds is None else self.eval_seconds

    @property
    def eval_clip_size(self) -> int:
        """Samples or frames per evaluation row: ``clip_size``, or that of ``eval_seconds``."""
        return self.size_of(self.eval_clip_seconds)

    def describe(self) -> str:
        """One line for logs and reports."""
        windows = "" if self.eval_seconds is None else f", scored over {self.clip_seconds:g} s windows of up to {self.eval_seconds:g} s"
        return (f"{self.sample_rate} Hz, {self.clip_seconds:g} s clips, {self.padding} padding, "
                f"{self.eval_crop} crop, {self.features}{windows}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (str, int, float, list, dict): safe in hparams and under weights_only loading."""
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["logmel"] = {k: v for k, v in (self.logmel or {}).items() if k != "splits"} or None
        if self.eval_seconds is None:
            del data["eval_seconds"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "checkpoint") -> "InputContract":
        """The record from its dict; a newer version or an unknown key is refused naming it."""
        data = dict(data)
        if data.get("version", CONTRACT_VERSION) > CONTRACT_VERSION:
            raise ValueError(f"{where}: input contract version {data['version']} is newer than this code "
                             f"understands ({CONTRACT_VERSION}); update the toolkit")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: input contract has unknown keys {unknown}")
        return cls(**data)


@dataclass(frozen=True)
class ClipPlan:
    """How evaluation shapes each clip: crop longer ones to ``crop_size``, pad shorter ones to ``pad_size``.

    Sizes are samples (waveform) or frames (log-mel); None: no crop / pad only to the batch's longest.
    """

    crop_size: int | None
    pad_size: int | None
    padding: str
    crop: str
    features: str = "waveform"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InputOverrides:
    """Explicit departures from a model's contract, from the command line; None keeps the contract's value.

    ``max_seconds``: crop longer clips to this length (``inf``: keep clips whole).
    ``pad_to_seconds``: pad shorter clips to this length (0: only to the longest clip of the batch).
    ``padding``: zero or repeat. ``eval_crop``: center or start.
    """

    max_seconds: float | None = None
    pad_to_seconds: float | None = None
    padding: Literal["zero", "repeat"] | None = None
    eval_crop: Literal["center", "start"] | None = None

    def __post_init__(self) -> None:
        if self.padding is not None:
            _check_choice("--padding", self.padding, PADDINGS)
        if self.eval_crop is not None:
            _check_choice("--eval_crop", self.eval_crop, CROPS)
        for name in ("max_seconds", "pad_to_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"--{name}={value}: must be >= 0")

    def plan(self, contract: InputContract | None, sample_rate: int) -> ClipPlan:
        """The clip plan for a model with ``contract`` (None: a model that carries none, e.g. an old
        checkpoint or a bare module: clips stay whole and zero-padded unless overridden)."""
        if contract is None:
            contract_seconds, padding, crop, size_of = None, "zero", "center", None
        else:
            contract_seconds, padding, crop, size_of = (contract.eval_clip_seconds, contract.padding, contract.eval_crop,
                                                        contract.size_of)
        size_of = size_of or (lambda seconds: int(round(seconds * sample_rate)))
        crop_seconds = contract_seconds if self.max_seconds is None else self.max_seconds
        pad_seconds = contract_seconds if self.pad_to_seconds is None else self.pad_to_seconds
        return ClipPlan(
            crop_size=None if crop_seconds is None or math.isinf(crop_seconds) else size_of(crop_seconds),
            pad_size=size_of(pad_seconds) if pad_seconds else None,
            padding=self.padding or padding, crop=self.eval_crop or crop,
            features=contract.features if contract is not None else "waveform",
        )

    @staticmethod
    def add_arguments(parser: Any) -> None:
        """The four flags, with help, on a jsonargparse/argparse parser (evaluate.py, python -m ensemble)."""
        model = "default: the checkpoint's input contract"
        parser.add_argument("--max_seconds", type=float | None, default=None,
                            help=f"crop longer clips to this length, inf keeps them whole ({model}: its clip length)")
        parser.add_argument("--pad_to_seconds", type=float | None, default=None,
                            help=f"pad shorter clips to this length, 0 only to the batch's longest ({model}: its clip length)")
        parser.add_argument("--padding", type=Literal["zero", "repeat"] | None, default=None,
                            help=f"zero or repeat ({model})")
        parser.add_argument("--eval_crop", type=Literal["center", "start"] | None, default=None,
                            help=f"where long clips are cropped: center or start ({model})")

    @classmethod
    def from_config(cls, config: Any) -> "InputOverrides":
        """From a parsed command line that has these four flags (``InputOverrides.add_arguments``)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def legacy_contract(model_hparams: Mapping[str, Any], datamodule_hparams: Mapping[str, Any] | None,
                    where: str) -> InputContract | None:
    """A contract rebuilt from a checkpoint written before contracts existed; None when it cannot be.

    Lightning stores the datamodule's init arguments beside the model's (``datamodule_hyper_parameters``):
    clip_seconds, padding, eval_crop and features are there. Log-mel settings were not stored, so a
    log-mel checkpoint of that age is refused in one line rather than scored on guessed features.
    """
    data = dict(datamodule_hparams or {})
    if "clip_seconds" not in data or "sample_rate" not in model_hparams:
        return None
    if data.get("features", "waveform") != "waveform":
        raise ValueError(f"{where} predates the input contract and was trained on precomputed log-mel, whose "
                         "settings it does not record; retrain it to evaluate it")
    return InputContract(
        sample_rate=int(model_hparams["sample_rate"]), clip_seconds=float(data["clip_seconds"]),
        padding=data.get("padding", "zero"), eval_crop=data.get("eval_crop", "center"),
        class_names=tuple(model_hparams.get("class_names") or ()),
    )


def check_data_matches(contract: InputContract, logmel: Mapping[str, Any] | None, where: str) -> None:
    """Refuse log-mel shards whose settings differ from the ones the model was trained on."""
    if contract.features != "logmel":
        return
    if not logmel:
        raise ValueError(f"{where} has no log-mel shards, but the model was trained on precomputed log-mel "
                         f"({contract.logmel})")
    differing = {k: (contract.logmel[k], logmel.get(k)) for k in LOGMEL_KEYS if contract.logmel[k] != logmel.get(k)}
    if differing:
        raise ValueError(f"{where}: log-mel settings differ from the model's (model, data): {differing}")

