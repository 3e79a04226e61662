"""The error tree (dubnium/errors.py): one root for every domain error, drawn in its docstring."""

from __future__ import annotations

import errno
import importlib
import inspect
import pkgutil

import pytest

import backends
import dubnium
import dubnium_app
import simulator
from dubnium import errors
from dubnium.errors import DubniumError

# Exceptions that are not domain errors, each for a reason the test names.
NOT_DOMAIN_ERRORS = {
    # A verb's chosen exit code (0 included), raised to leave the verb: control flow, like
    # SystemExit, not an error.
    "dubnium.session.VerbExit",
    # A library error inside one adapter, translated at that adapter's edge into
    # BackendError or Unavailable; it never leaves `backends`.
    "backends.bus.BusError",
    "backends.nvml.NvmlUnavailable",
    # The simulator's stand-ins for a killed process and a broken oracle invariant: they must
    # pass every `except DubniumError` (a kill -9 is not an error the controller handles).
    "simulator.faults.ControllerKilled",
    "simulator.gpu.SimInvariantError",
}


def _error_classes(package: object) -> dict[str, type[BaseException]]:
    """Every exception class defined in `package` and its modules, by dotted name."""
    found: dict[str, type[BaseException]] = {}
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    for info in pkgutil.walk_packages(path, prefix):
        if info.name.endswith(".__main__"):  # runs the program when imported
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == info.name):
                found[f"{info.name}.{name}"] = value
    return found


@pytest.mark.parametrize("package", [dubnium, dubnium_app, backends, simulator],
                         ids=lambda p: p.__name__)
def test_every_error_class_is_under_the_root(package: object) -> None:
    """Every exception class defined in the package derives from DubniumError (or is named
    above as not a domain error, with its reason)."""
    classes = _error_classes(package)
    outside = sorted(name for name, cls in classes.items()
                     if not issubclass(cls, DubniumError) and name not in NOT_DOMAIN_ERRORS)
    assert [] == outside


def test_every_error_of_the_domain_is_defined_in_errors_or_beside_its_payload() -> None:
    """The domain's errors live in dubnium/errors.py, except the two that carry guard
    verdicts (the docstring says why)."""
    elsewhere = sorted(name for name in _error_classes(dubnium)
                       if not name.startswith("dubnium.errors.") and name not in NOT_DOMAIN_ERRORS)
    assert ["dubnium.executor.Blocked", "dubnium.executor.StepFailed"] == elsewhere


def test_the_docstring_draws_every_class() -> None:
    """Each error class of the module appears in the tree its docstring draws."""
    doc = errors.__doc__ or ""
    names = [n for n, v in vars(errors).items() if inspect.isclass(v)
             and issubclass(v, BaseException) and v.__module__ == errors.__name__]
    missing = [n for n in names if f" {n}" not in doc]
    assert [] == missing


def test_built_in_bases_are_kept_where_code_catches_them() -> None:
    """ConfigError and the parse errors stay ValueErrors, NotRegularFile an OSError with its
    errno and file name: the existing `except ValueError` / `except OSError` still see them."""
    not_file = errors.NotRegularFile(errno.ENXIO, "a FIFO, not a regular file", "/x")
    expected = (True, True, True, True, errno.ENXIO, "/x", "a FIFO, not a regular file")
    assert expected == (
        issubclass(errors.ConfigError, ValueError),
        issubclass(errors.JsonError, ValueError),
        issubclass(errors.QueryError, ValueError),
        isinstance(not_file, OSError),
        not_file.errno,
        not_file.filename,
        not_file.strerror,
    )
