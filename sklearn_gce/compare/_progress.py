"""A one-line progress bar on a text stream (no dependency)."""

import sys
import time

__all__ = ["ProgressBar"]


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProgressBar:
    """``[#####.....] 12/60  seed 1 gce  0:23 elapsed, ~0:45 left``, redrawn in place.

    Call it as ``bar(done, total, label)``, the ``progress`` callback of
    :func:`~sklearn_gce.compare.run_comparison`; :meth:`close` ends the line.

    Parameters
    ----------
    stream : text stream, default=sys.stderr
    width : int, default=30
        Characters of the bar itself.
    """

    def __init__(self, stream=None, width=30):
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.start = time.perf_counter()
        self._length = 0

    def __call__(self, done, total, label=""):
        elapsed = time.perf_counter() - self.start
        filled = int(self.width * done / max(total, 1))
        text = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
        if label:
            text += f"  {label}"
        text += f"  {_clock(elapsed)} elapsed"
        if 0 < done < total:
            text += f", ~{_clock(elapsed / done * (total - done))} left"
        padding = " " * max(self._length - len(text), 0)
        self._length = len(text)
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()

    def close(self):
        """End the bar's line (if anything was drawn)."""
        if self._length:
            self.stream.write("\n")
            self.stream.flush()
            self._length = 0
