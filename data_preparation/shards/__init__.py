"""The shards on disk: their format and stats.json (shard_format, stats), audio codecs, and the writers."""
