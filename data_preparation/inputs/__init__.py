"""The input files: one Entry each with its class (entries), their content digests (content_hash),
and the fate of each (manifest)."""
