"""The errors of :mod:`visent.backbone`."""

from __future__ import annotations


class BackboneError(Exception):
    """Base class of the errors raised by ``visent.backbone``."""


class UnknownWeightsError(BackboneError, ValueError):
    """A weights spec that names no entry of the registry."""


class WeightsUnavailableError(BackboneError, RuntimeError):
    """Valid weights that cannot be obtained here (package missing, offline)."""


class WeightsFileError(BackboneError, ValueError):
    """A weights file (or source) that is missing, unreadable or not a VGG-16 trunk."""


class PreprocessSpecError(BackboneError, ValueError):
    """Preprocessing parameters that cannot be used."""


class BackboneInputError(BackboneError, ValueError):
    """An image or tensor handed to the preprocessing or the trunk in the wrong form."""


class WeightsCacheWarning(RuntimeWarning):
    """The converted-weights cache was invalid (rebuilt) or could not be written."""


def preview(keys: set[str], limit: int = 6) -> str:
    shown = sorted(keys)[:limit]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more
