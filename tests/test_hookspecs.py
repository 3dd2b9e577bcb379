"""Meta-tests: every hookspec documented, called by the host, and tested."""

import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest

import hookspecs
from host.plugins import get_plugin_manager

REPO = Path(__file__).resolve().parent.parent
SPECS = {
    name: fn
    for name, fn in vars(hookspecs).items()
    if inspect.isfunction(fn) and hasattr(fn, "trackbridge_spec")
}
REGISTRATION = {name for name in SPECS if name.startswith("register_")}

#: Hooks whose host call site belongs to a later piece of work. Each is
#: checked below to be NOT yet called, so this list cannot silently go stale.
AWAITING_CALLER: dict[str, str] = {}


def host_source() -> str:
    return "\n".join(p.read_text() for p in (REPO / "host").rglob("*.py"))


def test_specs_exist():
    assert len(SPECS) >= 20
    assert set(AWAITING_CALLER) <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_docstring_has_pytests_shape(name):
    fn = SPECS[name]
    doc = inspect.getdoc(fn)
    assert doc, f"{name} has no docstring"
    summary = doc.splitlines()[0]
    assert summary.endswith(".") and len(summary) <= 80, summary
    for arg in inspect.signature(fn).parameters:
        assert re.search(rf":param {arg}:", doc), f"{name}: no :param {arg}:"
    assert ":returns:" in doc, f"{name}: no :returns:"
    assert "Called by:" in doc, f"{name}: does not say where the host calls it"
    firstresult = fn.trackbridge_spec.get("firstresult", False)
    assert ("Stops at first non-None result." in doc) == firstresult


@pytest.mark.parametrize("name", sorted(SPECS))
def test_provider_hooks_are_firstresult(name):
    firstresult = SPECS[name].trackbridge_spec.get("firstresult", False)
    assert firstresult == (name not in REGISTRATION)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_called_by_the_host_or_awaits_its_caller(name):
    called = re.search(rf"hook\.{name}\(", host_source()) is not None
    if name in AWAITING_CALLER:
        assert not called, f"{name} is called now: remove it from AWAITING_CALLER"
    else:
        assert called, f"the host never calls {name}"


@pytest.mark.parametrize("name", sorted(set(SPECS) - set(AWAITING_CALLER)))
def test_every_called_hook_is_exercised_by_a_test(name):
    """Each hook the host calls is implemented by the tiny provider or a test."""
    tests = "\n".join(
        p.read_text()
        for p in Path(__file__).parent.glob("*.py")
        if p.name != Path(__file__).name
    )
    assert re.search(rf"def {name}\(", tests), f"no test implements {name}"


def test_check_pending_passes_with_the_installed_plugins():
    pm = get_plugin_manager()
    pm.check_pending()
    assert pm.has_plugin("jira_server")


def test_the_jira_entry_points_are_declared():
    points = {
        p.name: p.value for p in importlib.metadata.entry_points(group="trackbridge")
    }
    assert points["jira_server"] == "plugins.jira_server.plugin"
    assert points["jira"] == "plugins.jira.plugin"


def test_host_code_never_imports_plugins():
    assert not re.search(r"^\s*(from|import) plugins\b", host_source(), re.M)


def test_no_firstresult_implementation_is_a_generator():
    pm = get_plugin_manager()
    for name in SPECS:
        if name in REGISTRATION:
            continue
        for impl in getattr(pm.hook, name).get_hookimpls():
            assert not inspect.isgeneratorfunction(impl.function), (
                f"{impl.plugin_name}.{name} is a generator: it would claim every call"
            )
