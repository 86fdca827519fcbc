"""LightningDataModules that stream prepared WebDataset shards."""
from datamodules.shard_datamodule import ShardDataModule

__all__ = ["ShardDataModule"]
