"""Run assembly and surviving long runs: the train.py command line, loggers, run folders, atomic
checkpoints, SLURM preemption and requeue, resume."""
