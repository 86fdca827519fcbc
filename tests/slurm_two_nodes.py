"""A real two-node SLURM cluster on this one machine, each node in its own network namespace.

Layout: a bridge (``ser2nbr``, 10.213.77.254/24) in the host namespace, where slurmctld and munged
run and the tests' SLURM clients connect; two namespaces ``ser2n-node1`` / ``ser2n-node2``, each
joined to the bridge by a veth pair whose inner end is called ``ser0`` (10.213.77.1 / .2), and each
running one ``slurmd -N sernodeN``. Jobs therefore see two hosts with their own addresses: srun
starts tasks on both, Lightning resolves the first node's name as MASTER_ADDR (a hosts file that
each slurmd's own mount namespace has over /etc/hosts), and gloo talks over ``ser0``
(GLOO_SOCKET_IFNAME). All traffic stays on the bridge; nothing is routed out.

The file system is shared, as on a cluster: the repository and ``root/work`` are the same folders
on both nodes. ``root/primary`` is the exception: the second node sees it read-only (a bind mount
inside its slurmd's mount namespace), so a job whose ranks on node 2 write there fails with
"Read-only file system" - which is how the tests check that only global rank 0 writes a run.

Everything lives in one temporary folder with its own config, munge key, ports, state, cluster name
(``ser2nodes``) and names for namespaces and links, so it does not touch tests/slurm_cluster.py's
single-node cluster or a system SLURM. One machine-wide file lock (``/tmp/ser-slurm-two-nodes.lock``)
serialises it across pytest processes (pytest-xdist workers, parallel runs); under the lock,
namespaces and links left by a killed earlier run are removed first. Daemons are children of the
test process, stopped in reverse order by the fixture's finaliser, which also deletes the
namespaces and the bridge, on failure too.

Needs root, ``ip`` (iproute2), slurm-wlm and munge: ``from tests.slurm_two_nodes import slurm_two_nodes``.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.slurm_cluster import (MUNGE_SETTINGS, SHARED_SETTINGS, SlurmCluster, _binary, _free_port, _start,
                                 missing_requirements, node_resources, stop_cluster, write_munge_key)

NODES = ("sernode1", "sernode2")
NAMESPACES = tuple(f"ser2n-node{i}" for i in (1, 2))
HOST_LINKS = tuple(f"ser2nv{i}" for i in (1, 2))
BRIDGE = "ser2nbr"
INNER_LINK = "ser0"  # the node's interface, the same name in both namespaces (GLOO_SOCKET_IFNAME)
SUBNET = "10.213.77"
CONTROLLER_ADDR = f"{SUBNET}.254"
NODE_ADDRS = tuple(f"{SUBNET}.{i}" for i in (1, 2))
LOCK_FILE = Path("/tmp/ser-slurm-two-nodes.lock")

SLURM_CONF = """\
ClusterName=ser2nodes
SlurmctldHost={host}({controller})
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
""" + MUNGE_SETTINGS + """StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
""" + SHARED_SETTINGS + """NodeName={node1} NodeAddr={addr1} CPUs={cpus} RealMemory={memory} State=UNKNOWN
NodeName={node2} NodeAddr={addr2} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=two Nodes={node1},{node2} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


def two_node_requirements() -> str | None:
    """Why this machine cannot run the two-node cluster, or None when it can."""
    reason = missing_requirements()
    if reason:
        return reason
    if shutil.which("ip") is None:
        return "the two-node SLURM cluster needs iproute2's `ip` (network namespaces)"
    taken = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    for line in taken.splitlines():
        if f" {SUBNET}." in line and BRIDGE not in line:
            return f"{SUBNET}.0/24 is already used on this machine ({line.split()[1]}): the test cluster needs it"
    return None


@dataclass
class TwoNodeCluster(SlurmCluster):
    """A running two-node cluster. ``work``: shared and writable on both nodes; ``primary``: writable
    on the first node only (read-only on the second)."""

    work: Path = Path()
    primary: Path = Path()

    def logs(self, lines: int = 30) -> str:
        parts = []
        for name in ("slurmctld.log", *(f"slurmd-{node}.log" for node in NODES)):
            path = self.root / "log" / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)

    def node_states(self) -> dict[str, str]:
        out = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False)
        return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


def remove_network() -> None:
    """Delete the namespaces (after killing what still runs in them) and the links.

    Safe to call when some or none of them exist. Only this module's names are touched."""
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    for namespace in NAMESPACES:
        if namespace in existing:
            pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
            for pid in pids:  # left by a killed earlier run of this fixture: only ours live in these namespaces
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _ip("netns", "delete", namespace, check=False)
    for link in (*HOST_LINKS, BRIDGE):
        _ip("link", "delete", link, check=False)


def create_network() -> None:
    """Bridge with the controller's address; one namespace per node, joined by a veth pair."""
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{CONTROLLER_ADDR}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for namespace, link, addr in zip(NAMESPACES, HOST_LINKS, NODE_ADDRS):
        _ip("netns", "add", namespace)
        _ip("link", "add", link, "type", "veth", "peer", "name", INNER_LINK, "netns", namespace)
        _ip("link", "set", link, "master", BRIDGE, "up")
        _ip("-n", namespace, "addr", "add", f"{addr}/24", "dev", INNER_LINK)
        _ip("-n", namespace, "link", "set", INNER_LINK, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")


def _write_config(root: Path) -> Path:
    for sub in ("munge", "state", "run", "log", "work", "primary", *(f"spool/{node}" for node in NODES)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_munge_key(root / "munge")
    cpus, memory = node_resources()
    hosts = Path("/etc/hosts").read_text() + "".join(f"{a} {n}\n" for a, n in zip(NODE_ADDRS, NODES))
    (root / "hosts").write_text(hosts)  # mounted over /etc/hosts inside the nodes: node names resolve
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(
        host=socket.gethostname().split(".")[0], controller=CONTROLLER_ADDR, root=root, cpus=cpus,
        memory=memory // 2, ctld_port=_free_port(), slurmd_port=_free_port(), node1=NODES[0], node2=NODES[1],
        addr1=NODE_ADDRS[0], addr2=NODE_ADDRS[1]))
    return conf


def _start_munge(cluster: TwoNodeCluster) -> None:
    root, munge = cluster.root, cluster.root / "munge"
    _start(cluster, _binary("munged"), "--foreground", "--force", f"--key-file={munge}/munge.key",
           f"--socket={munge}/munge.socket", f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/seed",
           f"--log-file={root}/log/munged.log")
    deadline = time.monotonic() + 10
    while not (munge / "munge.socket").exists():  # a path socket: reachable from every namespace
        if time.monotonic() > deadline:
            raise RuntimeError(f"munged did not create its socket\n{(root / 'log' / 'munged.log').read_text()}")
        time.sleep(0.1)


def _start_slurmd(cluster: TwoNodeCluster, conf: Path, index: int) -> None:
    """slurmd -N <node> in the node's network namespace and a mount namespace of its own, where
    /etc/hosts names both nodes and, on every node but the first, ``primary`` is read-only.

    ``nsenter --net`` rather than ``ip netns exec``: the latter remounts /sys for the namespace,
    which hides /sys/fs/cgroup, and slurmd refuses to start without it."""
    commands = [f"mount --bind {cluster.root / 'hosts'} /etc/hosts"]
    if index > 0:
        commands += [f"mount --bind {cluster.primary} {cluster.primary}",
                     f"mount -o remount,bind,ro {cluster.primary}"]
    commands.append(f"exec {_binary('slurmd')} -D -N {NODES[index]} -f {conf}")
    _start(cluster, "nsenter", f"--net=/run/netns/{NAMESPACES[index]}", "unshare", "--mount",
           "--propagation", "private", "sh", "-c", " && ".join(commands))


def _wait_idle(cluster: TwoNodeCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for process in cluster.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}\n{cluster.logs()}")
        states = cluster.node_states()
        if all(states.get(node) == "idle" for node in NODES):
            return
        time.sleep(0.5)
    raise RuntimeError(f"nodes not idle after {timeout} s (sinfo: {states})\n{cluster.logs()}")


def start_two_nodes(root: Path) -> TwoNodeCluster:
    """Network, munged, slurmctld, then one slurmd per namespace; returns once both nodes are idle.

    The caller holds the lock and calls :func:`stop_two_nodes` whatever happens."""
    remove_network()  # a killed earlier run's leftovers (we hold the lock: nobody else uses these names)
    create_network()
    conf = _write_config(root)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_"))}
    # Jobs inherit this environment (sbatch --export=ALL). Both "nodes" share this machine's cores, and
    # under SLURM torch would give every rank all of them: one thread per rank.
    env |= {"SLURM_CONF": str(conf), "GLOO_SOCKET_IFNAME": INNER_LINK, "OMP_NUM_THREADS": "1"}
    cluster = TwoNodeCluster(root=root, env=env, work=root / "work", primary=root / "primary")
    try:
        _start_munge(cluster)
        _start(cluster, _binary("slurmctld"), "-D", "-i", "-f", str(conf))
        for index in range(len(NODES)):
            _start_slurmd(cluster, conf, index)
        _wait_idle(cluster)
    except BaseException:
        stop_two_nodes(cluster)
        raise
    return cluster


def stop_two_nodes(cluster: TwoNodeCluster) -> None:
    """Cancel jobs, stop the slurmds, slurmctld and munged (reverse order), then remove the network."""
    stop_cluster(cluster)
    remove_network()  # also kills any job step still running inside the namespaces


@contextmanager
def machine_lock(timeout: float = 900) -> Iterator[None]:
    """One two-node cluster per machine at a time (the names and the subnet are fixed)."""
    with open(LOCK_FILE, "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{LOCK_FILE} held for {timeout:.0f} s by another test process") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def slurm_two_nodes() -> Iterator[TwoNodeCluster]:
    """Session-wide two-node SLURM cluster; skips the test when this machine cannot run one."""
    reason = two_node_requirements()
    if reason:
        pytest.skip(reason)
    with machine_lock():
        root = Path(tempfile.mkdtemp(prefix="slurm-two-nodes-"))
        os.chmod(root, 0o755)
        try:
            cluster = start_two_nodes(root)
            try:
                yield cluster
            finally:
                stop_two_nodes(cluster)
        finally:
            shutil.rmtree(root, ignore_errors=True)
