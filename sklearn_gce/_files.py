"""Writing files so that an interrupted write never destroys the previous file."""

import contextlib
import os
import uuid

__all__ = ["replaced_on_success"]


@contextlib.contextmanager
def replaced_on_success(paths):
    """Temporary paths to write to, moved onto ``paths`` if all writes succeed.

    Each temporary file sits beside its target, so that ``os.replace`` is an
    atomic rename: a reader sees the old file or the new one, never a part.
    On an error (or an interrupt) the temporary files are removed and the
    targets are left as they were.

    Parameters
    ----------
    paths : dict of name -> str or os.PathLike

    Yields
    ------
    temporary : dict of name -> str
    """
    temporary = {
        name: f"{os.fspath(path)}.{uuid.uuid4().hex[:12]}.tmp"
        for name, path in paths.items()
    }
    try:
        yield temporary
    except BaseException:
        for temp in temporary.values():
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
        raise
    for name, temp in temporary.items():
        if os.path.exists(temp):
            os.replace(temp, paths[name])
