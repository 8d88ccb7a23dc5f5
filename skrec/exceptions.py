"""Warnings and errors that skrec raises, so that callers can filter or catch them by class."""

__all__ = ["ColdStartWarning", "InvalidParameterError", "TrainingDivergedError"]


class ColdStartWarning(UserWarning):
    """Some users or items were not seen in ``fit``; skrec's cold-start rule was applied.

    It is located at the line that called skrec, and its text does not change from call to
    call, so Python's default filter shows it once per calling line (once in a search, not
    once per fold). Silence it with
    ``warnings.simplefilter("ignore", skrec.exceptions.ColdStartWarning)``; ``users_`` and
    ``items_`` tell which ids are known.
    """


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch."""


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the estimator has a value or type it does not accept.

    It subclasses both ``ValueError`` and ``TypeError`` (as scikit-learn's does), so code
    written for either catches it. The message names the parameter, what it accepts and the
    value it got.
    """
