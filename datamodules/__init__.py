"""LightningDataModules that stream prepared WebDataset shards."""
from datamodules.data_settings import ClipShape, Loading, SplitChoice, TrainingStream
from datamodules.shard_datamodule import ShardDataModule, shard_data_module

__all__ = ["ClipShape", "Loading", "ShardDataModule", "SplitChoice", "TrainingStream", "shard_data_module"]
