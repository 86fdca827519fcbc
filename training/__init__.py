"""Surviving long runs: atomic checkpoints, SLURM preemption and requeue, resume, non-finite losses."""
