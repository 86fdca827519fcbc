"""Does the loader keep a GPU fed? Training clips/s of WavLM-base and EfficientNet-B5 against loader clips/s.

On a realistic merge (benchmarks/realistic_corpus.py, prepared in ``--codec``), for each network:

1. Training clips/s on the device: random-initialised WavLM-base-sized (transformers WavLMConfig
   defaults: 12 layers, 768 wide, about 94M parameters) and EfficientNet-B5 (timm, 456 x 456 log-mel
   images, last five blocks trainable), no download; bf16 autocast (on a GPU), AdamW, cross-entropy,
   with the on-device WaveformAugment of training, on real 4 s batches from the shards.
2. The loader's clips/s with N workers over the same shards (ShardDataModule, resampled shards so
   the count does not depend on the dataset's size, batches moved to the device), and whether it
   keeps up with step 1.
3. On-device augmentation throughput (WaveformAugment, every op on every clip) against
   audiomentations clip by clip on the CPU (benchmarks/bench_augmentation.py's chain).

``--tiny`` swaps in two-layer, 32-wide versions of both networks and a few clips, so the script runs
(and is tested) on a CPU; the figures are then only a check that it works.

    python -m benchmarks.bench_gpu --device cuda                        # on a GPU machine
    python -m benchmarks.bench_gpu --device cuda --workers 2 4 8 --batch 32 --clips 2000
    python -m benchmarks.bench_gpu --tiny --device cpu                  # CPU smoke run (~1 min)
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from benchmarks import realistic_corpus
from benchmarks.bench_augmentation import baseline, clips_per_second
from benchmarks.bench_input import prepare_codec
from data_preparation.shards.audio_codec import CODECS
from datamodules import shard_data_module
from lightning_modules.components.augmentation import WaveformAugment
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.speech_encoder import SpeechEncoderClassifier
from lightning_modules.components.timm_image import TimmImageClassifier

NUM_CLASSES = 4
TINY_WAVLM = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8),
                  num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_buckets=16,
                  max_bucket_distance=64)


def wavlm(tiny: bool) -> nn.Module:
    """WavLM-base-sized (or tiny) classifier with random weights, built from a config: no hub access."""
    from transformers import WavLMConfig

    config = WavLMConfig(**(TINY_WAVLM if tiny else {}), layerdrop=0.0)
    return SpeechEncoderClassifier(NUM_CLASSES, model_name="wavlm", pretrained=False, head="linear",
                                   encoder_config=config.to_dict())


def efficientnet_b5(tiny: bool) -> nn.Module:
    """configs/net/efficientnet_b5.yaml's network with random weights (timm's tiny test net with ``tiny``)."""
    name, size = ("test_efficientnet", 32) if tiny else ("efficientnet_b5", 456)
    return TimmImageClassifier(NUM_CLASSES, model_name=name, pretrained=False, trainable_blocks=None if tiny else 5,
                               image_size=size, frontend=LogMel(n_mels=128, n_fft=1024, hop_length=160))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_rate(net: nn.Module, batch: dict, device: torch.device, steps: int, warmup: int, bf16: bool) -> float:
    """Clips/s of augment + forward + weighted CE + backward + AdamW (under bf16 autocast with ``bf16``)."""
    net = net.to(device).train()
    augment = WaveformAugment(seed=0).to(device).train()
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-5)
    criterion = nn.CrossEntropyLoss(weight=torch.ones(NUM_CLASSES, device=device))
    audio, lengths = batch["audio"].to(device), batch["lengths"].to(device)
    labels = batch["label"].to(device)
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(device)
            start = time.perf_counter()
        noisy, noisy_lengths = augment(audio, lengths)  # outside autocast, as on_after_batch_transfer runs
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = criterion(net(noisy, noisy_lengths).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * audio.shape[0] / (time.perf_counter() - start)


def loader_rate(root: str, batch_size: int, workers: int, clips: int, device: torch.device, padding: str) -> float:
    """Clips/s of ShardDataModule with ``workers`` loader processes, batches copied to ``device``."""
    datamodule = shard_data_module(root, batch_size=batch_size, num_workers=workers, clip_seconds=4.0, padding=padding,
                                 resampled=True, samples_per_epoch=clips, pin_memory=device.type == "cuda")
    loader = datamodule.train_dataloader()
    start, seen = time.perf_counter(), 0
    for batch in loader:
        batch["audio"].to(device, non_blocking=True)
        seen += batch["audio"].shape[0]
    synchronize(device)
    return seen / (time.perf_counter() - start)


def augmentation_rates(device: torch.device, batch: int, repeats: int) -> tuple[float, float]:
    """(on-device WaveformAugment clips/s, audiomentations clip by clip clips/s) on 4 s clips."""
    from audiomentations import PitchShift

    generator = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(batch, 64_000, generator=generator)
    lengths = torch.full((batch,), 64_000)
    ours = WaveformAugment(gain_prob=1, noise_prob=1, shift_prob=1, speed_prob=1, seed=0).to(device).train()
    on_device, device_lengths = audio.to(device), lengths.to(device)

    def run() -> None:
        ours(on_device, device_lengths)
        synchronize(device)

    chain = baseline(PitchShift, min_semitones=-2.0, max_semitones=2.0)
    clips = audio.numpy()
    theirs = clips_per_second(lambda: [chain(samples=clip, sample_rate=16_000) for clip in clips], batch, repeats)
    return clips_per_second(run, batch, repeats), theirs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny networks and data: a CPU smoke run")
    parser.add_argument("--batch", type=int, default=None, help="clips per step (default 32; tiny 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps (default 20; tiny 2)")
    parser.add_argument("--workers", nargs="+", type=int, default=None, help="loader workers (default 1 2 4 8; tiny 0 1)")
    parser.add_argument("--clips", type=int, default=None, help="clips in the generated merge (default 640; tiny 24)")
    parser.add_argument("--codec", default="raw", choices=list(CODECS))
    parser.add_argument("--precision", choices=["bf16", "32"], default=None,
                        help="bf16 autocast (default on a GPU) or float32 (default on a CPU, where bf16 is emulated)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the corpus and shards (kept, reused)")
    args = parser.parse_args(argv)
    tiny = args.tiny
    batch_size, steps = args.batch or (4 if tiny else 32), args.steps or (2 if tiny else 20)
    workers, clips = args.workers or ([0, 1] if tiny else [1, 2, 4, 8]), args.clips or (24 if tiny else 640)
    device = torch.device(args.device)
    bf16 = (args.precision or ("bf16" if device.type == "cuda" else "32")) == "bf16"
    logging.getLogger("datamodules").setLevel(logging.ERROR)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_gpu_"))
    specs = realistic_corpus.generate(work / f"corpus{clips}", clips)
    root = str(work / f"prepared{clips}" / args.codec)
    prepare_codec(specs, Path(root), args.codec, clips, workers=1)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; {'tiny' if tiny else 'full-size'} networks; {args.codec} shards of {clips} clips; "
          f"batch {batch_size}, 4 s clips, {'bf16 autocast' if bf16 else 'float32'}")
    for label, build, padding in (("WavLM-base", wavlm, "zero"), ("EfficientNet-B5", efficientnet_b5, "repeat")):
        label = f"{label} (tiny)" if tiny else label
        report_network(label, build(tiny), padding, root, batch_size, steps, workers, device, bf16)
    ours, theirs = augmentation_rates(device, batch_size if tiny else 64, repeats=2 if tiny else 5)
    print(f"augmentation: WaveformAugment on {device.type} {ours:10.1f} clips/s, audiomentations clip by clip (CPU, "
          f"1 core) {theirs:8.1f} clips/s; ratio {ours / theirs:6.1f}x")


def report_network(label: str, net: nn.Module, padding: str, root: str, batch_size: int, steps: int,
                   workers: list[int], device: torch.device, bf16: bool) -> None:
    datamodule = shard_data_module(root, batch_size=batch_size, num_workers=0, clip_seconds=4.0, padding=padding,
                                 resampled=True, samples_per_epoch=batch_size)
    batch = next(iter(datamodule.train_dataloader()))
    parameters = sum(p.numel() for p in net.parameters()) / 1e6
    train = training_rate(net, batch, device, steps, max(1, steps // 5), bf16)
    print(f"{label} ({parameters:.1f}M parameters): training {train:8.1f} clips/s")
    for count in workers:
        rate = loader_rate(root, batch_size, count, max(8 * batch_size, int(3 * train)), device, padding)
        verdict = "keeps up" if rate >= train else f"does NOT keep up ({train / max(rate, 1e-9):.1f}x short)"
        print(f"  loader, {count} workers: {rate:8.1f} clips/s -> {verdict}")


if __name__ == "__main__":
    main()
