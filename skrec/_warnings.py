"""Warnings located at the caller's line: the first frame outside the skrec package.

``warnings.warn`` with a fixed ``stacklevel`` points at skrec's own code whenever a public
method reaches the warning through helpers of different depths. :func:`warn` walks the stack
instead (as ``skip_file_prefixes`` does on Python 3.12+), so that a warning names the line
that called skrec, and Python's default filter shows it once per such line.
"""

import os
import sys
import warnings

__all__ = ["warn"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """Issue ``message`` as ``category`` at the first stack frame outside skrec."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
