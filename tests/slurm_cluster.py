"""A real single-node SLURM cluster on localhost for tests: munged, slurmctld and slurmd.

Everything (config, munge key and socket, state, spool, logs) lives in one temporary folder, on
free ports, so it never touches a system SLURM. Daemons run in the foreground (``-D``/``-F``)
as child processes and are stopped in reverse order. Needs root (slurmd launches jobs as their
user) and Debian's ``slurm-wlm`` and ``munge`` (scripts/setup_system.sh installs them).

Tests import the session fixture: ``from tests.slurm_cluster import slurm_cluster`` (one cluster
for the whole pytest session, shared by tests/test_slurm_cluster.py and tests/test_slurm_train.py).
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "squeue", "scontrol", "scancel", "srun")
TERMINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                   "DEADLINE", "PREEMPTED"}


def missing_requirements() -> str | None:
    """Why this machine cannot run the cluster, or None when it can."""
    absent = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
    if absent:
        return f"SLURM/munge binaries missing: {', '.join(absent)} (run scripts/setup_system.sh as root)"
    if os.geteuid() != 0:
        return "the local SLURM cluster needs root (slurmd starts jobs as their user)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def node_resources() -> tuple[int, int]:
    """(CPUs, RealMemory MB) as slurmd itself detects them, so the node registers as valid."""
    out = subprocess.run([_binary("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    return int(fields["CPUs"]), int(fields["RealMemory"])


# What every test cluster runs with (this one and tests/slurm_two_nodes.py): munge, no cgroups or
# accounting, requeue allowed, a scheduler that looks every second.
MUNGE_SETTINGS = """\
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
"""
SHARED_SETTINGS = """\
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
SchedulerParameters=sched_interval=1
"""

SLURM_CONF = """\
ClusterName=sertest
FirstJobId={first_job_id}
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
""" + MUNGE_SETTINGS + """StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
""" + SHARED_SETTINGS + """NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


@dataclass
class SlurmCluster:
    """A running cluster: ``env`` points the SLURM clients at it (SLURM_CONF)."""

    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """stdout of a SLURM client command (``sbatch``, ``squeue``, ...) run against this cluster."""
        done = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}\n{self.logs()}")
        return done.stdout

    def sbatch(self, *args: str, cwd: Path | str | None = None) -> str:
        """Submit a job; returns its id."""
        done = subprocess.run(["sbatch", "--parsable", *args], env=self.env, capture_output=True, text=True,
                              cwd=cwd, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"sbatch {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip().split(";")[0]

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, Restarts, ExitCode, ...)."""
        out = self.run("scontrol", "show", "job", "-o", job_id)
        return dict(item.split("=", 1) for item in out.split() if "=" in item)

    def job_state(self, job_id: str) -> str:
        return self.job_info(job_id).get("JobState", "UNKNOWN")

    def wait_for(self, job_id: str, states: set[str], timeout: float, poll: float = 1.0) -> str:
        """Wait until the job is in one of ``states`` (or a terminal state); returns the state."""
        deadline = time.monotonic() + timeout
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            state = self.job_state(job_id)
            if state in states or state in TERMINAL_STATES:
                return state
            time.sleep(poll)
        raise TimeoutError(f"job {job_id} still {state} after {timeout:.0f} s\n{self.logs()}")

    def wait_for_file(self, job_id: str, path: Path, timeout: float, job_log: Callable[[], str]) -> None:
        """Wait while the job is pending or running until it writes ``path`` (e.g. its first last.ckpt);
        fails with the tail of ``job_log()`` when the job ends first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert self.job_state(job_id) in ("PENDING", "RUNNING"), job_log()[-3000:]
            assert time.monotonic() < deadline, f"no {path.name} after {timeout:.0f} s"
            time.sleep(0.2)

    def logs(self, lines: int = 30) -> str:
        """Tails of the daemon logs, for failure messages."""
        parts = []
        for name in ("slurmctld.log", "slurmd.log"):
            path = self.root / "log" / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)


def write_munge_key(folder: Path) -> None:
    """A fresh munge key in ``folder``, with the permissions munged insists on."""
    os.chmod(folder, 0o700)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o600)


def _write_config(root: Path) -> Path:
    for sub in ("munge", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_munge_key(root / "munge")
    cpus, memory = node_resources()
    conf = root / "slurm.conf"
    # Lightning's DDP rendezvous port is 15000 + the job id's last 4 digits: a cluster numbering from 1
    # would share port 15001 with any other test cluster on the machine (a parallel run, another clone).
    first_job_id = random.randrange(1000, 9000, 10)
    conf.write_text(SLURM_CONF.format(host=socket.gethostname().split(".")[0], root=root, cpus=cpus,
                                      memory=memory, ctld_port=_free_port(), slurmd_port=_free_port(),
                                      first_job_id=first_job_id))
    return conf


def _start(cluster: SlurmCluster, *command: str) -> None:
    log = open(cluster.root / "log" / f"{Path(command[0]).name}.stdout", "ab")
    cluster.processes.append(subprocess.Popen(list(command), env=cluster.env, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True))


def _wait_idle(cluster: SlurmCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for process in cluster.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode}\n{cluster.logs()}")
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], env=cluster.env, capture_output=True, text=True)
        state = done.stdout.strip()
        if state == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"node not idle after {timeout} s (sinfo: {state!r})\n{cluster.logs()}")


def start_cluster(root: Path) -> SlurmCluster:
    """Write the config into ``root``, start the daemons and wait until the node is idle."""
    conf = _write_config(root)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for name in list(env):
        if name.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")) and name != "SLURM_CONF":
            del env[name]  # a test started inside a SLURM job must not leak that job into ours
    cluster = SlurmCluster(root=root, env=env)
    munge = root / "munge"
    _start(cluster, _binary("munged"), "--foreground", "--force", f"--key-file={munge}/munge.key",
           f"--socket={munge}/munge.socket", f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/seed",
           f"--log-file={root}/log/munged.log")
    deadline = time.monotonic() + 10
    while not (munge / "munge.socket").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"munged did not create its socket\n{(root / 'log' / 'munged.log').read_text()}")
        time.sleep(0.1)
    _start(cluster, _binary("slurmctld"), "-D", "-i", "-f", str(conf))
    _start(cluster, _binary("slurmd"), "-D", "-f", str(conf))
    _wait_idle(cluster)
    return cluster


def stop_cluster(cluster: SlurmCluster) -> None:
    """Cancel remaining jobs, then stop the slurmds, slurmctld and munged (the reverse of their start)."""
    try:
        subprocess.run(["scancel", "--full", "--user=root"], env=cluster.env, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pass
    for process in reversed(cluster.processes):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="session")
def slurm_cluster():
    """Session-wide local SLURM cluster; skips the test when this machine cannot run one."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="slurm-test-"))
    os.chmod(root, 0o755)
    cluster = start_cluster(root)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)
