"""Run a function on several local CPU processes joined by a gloo process group."""

import datetime
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

TIMEOUT = 600  # seconds, for the whole run (a hung collective fails the test);
# generous: on a loaded machine the one spawn of test_distributed took 215 s


def run_processes(fn, out_dir, world_size=2):
    """Call ``fn(rank, world_size)`` on ``world_size`` spawned processes.

    Each process sets torchrun's environment variables (so that accelerate
    finds its rank) and joins a gloo group (which accelerate then uses).
    Returns the list of what ``fn`` returned on each rank.
    """
    env = {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "WORLD_SIZE": str(world_size),
        "LOCAL_WORLD_SIZE": str(world_size),
        "OMP_NUM_THREADS": "1",
    }
    context = mp.start_processes(
        _main,
        args=(fn, world_size, env, str(out_dir)),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + TIMEOUT
    while not context.join(timeout=1.0):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.terminate()
            raise TimeoutError(f"processes did not finish within {TIMEOUT} s")
    return [
        torch.load(os.path.join(out_dir, f"rank{rank}.pt"), weights_only=False)
        for rank in range(world_size)
    ]


def _main(rank, fn, world_size, env, out_dir):
    os.environ.update(env, RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=TIMEOUT))
    try:
        result = fn(rank, world_size)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
