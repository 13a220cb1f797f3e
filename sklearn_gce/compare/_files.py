"""Writing a comparison's output files: all of them, or none."""

import contextlib
import os
import shutil
import signal
import tempfile
import threading

__all__ = ["output_folder"]


@contextlib.contextmanager
def output_folder(path):
    """A fresh temporary folder whose files replace those of ``path`` on success.

    Write every output into the folder yielded; when the block ends without
    an exception, each file is moved into ``path`` with :func:`os.replace`
    (atomic on one file system: the temporary folder is inside ``path``),
    under a lock on ``path``, so that two runs sharing it never leave a mix
    of their files, and a Ctrl-C during the moves is held until they are
    done. On an exception nothing in ``path`` changes. The temporary folder
    is removed in any case.

    Parameters
    ----------
    path : str or path-like
        An existing folder.

    Yields
    ------
    folder : str
        The temporary folder.

    Raises
    ------
    OSError
        When ``path`` is missing or cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_gce.compare import output_folder
    >>> out = tempfile.mkdtemp()
    >>> with output_folder(out) as folder:
    ...     with open(os.path.join(folder, "a.txt"), "w") as file:
    ...         _ = file.write("done")
    >>> os.listdir(out)
    ['a.txt']
    """
    path = os.fspath(path)
    folder = tempfile.mkdtemp(prefix=".sklearn-gce-", dir=path)
    try:
        yield folder
        with _locked(path), _interrupts_held():
            for name in sorted(os.listdir(folder)):
                os.replace(os.path.join(folder, name), os.path.join(path, name))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _locked(path):
    """An exclusive lock on the folder ``path``, between processes."""
    try:
        import fcntl
    except ImportError:  # Windows: lock a file in the folder instead
        import msvcrt

        fd = os.open(os.path.join(path, ".sklearn-gce.lock"), os.O_RDWR | os.O_CREAT)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            yield
        finally:
            os.close(fd)  # closing releases the lock
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _interrupts_held():
    """Hold SIGINT (Ctrl-C) during the block and raise it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *args: received.append(args))
    try:
        yield
    finally:
        # None: a handler not set from Python; Python's own is the usual one
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
