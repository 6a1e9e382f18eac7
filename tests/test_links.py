"""Links: every page's controls read the URL's query parameters, so a shared link reproduces the view,
and a value a control cannot take is named in a warning instead of silently replaced."""

import ast
import inspect
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import ui
from page_checks import page_test

PAGES = Path(__file__).parent.parent / "app_pages"


def opened(page: str, **params: str | list[str]) -> AppTest:
    """The page as a browser opens a link with ``params``; fails on any exception."""
    at = page_test(str(PAGES / page))
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def link_warnings(at) -> list[str]:
    return [w.value for w in at.warning if "The link's" in w.value]


def test_a_samples_link_reproduces_model_size_temperature_and_seed(checkpoint_env):
    at = opened("2_Samples.py", model="vae", n="16", temperature="0.5", seed="7")
    caption = at.image[0].proto.imgs[0].caption
    assert caption.startswith("16 samples from vae at temperature 0.50, seed 7")
    assert link_warnings(at) == []


@pytest.mark.parametrize("key,value", [("temperature", "9"), ("temperature", "hot"), ("n", "17"), ("seed", "-3"),
                                       ("model", "nonsense")])
def test_a_value_a_samples_control_cannot_take_is_named_and_the_default_shown(checkpoint_env, key, value):
    at = opened("2_Samples.py", **{key: value})
    (warning,) = link_warnings(at)
    assert f"{key}={value}" in warning
    assert at.image[0].proto.imgs[0].caption.startswith("64 samples from flow at temperature 1.00, seed 0")


def test_a_link_warning_goes_once_the_control_is_used(checkpoint_env):
    at = opened("2_Samples.py", temperature="9")
    at.sidebar.slider(key="temperature").set_value(0.5).run()
    assert link_warnings(at) == [] and not at.exception


def test_an_interpolation_link_picks_the_digits_path_and_steps(checkpoint_env):
    at = opened("1_Interpolation.py", **{"digit-0": "3", "digit-1": "5", "path": "linear", "steps": "4"})
    assert at.sidebar.selectbox(key="digit-0").value == 3 and at.sidebar.selectbox(key="digit-1").value == 5
    assert at.sidebar.slider(key="steps").value == 4 and at.sidebar.radio(key="path").value == "linear"
    assert link_warnings(at) == []


def test_reconstructions_link_takes_a_list_of_digits_and_rejects_a_bad_one(checkpoint_env):
    at = opened("4_Reconstructions.py", digits=["9", "2"], per_digit="2")
    assert at.sidebar.multiselect(key="digits").value == [9, 2] and link_warnings(at) == []
    at = opened("4_Reconstructions.py", digits=["12"], per_digit="100")
    assert len(link_warnings(at)) == 2
    assert at.sidebar.slider(key="per_digit").value == 4


def test_fewshot_link_sets_k_and_methods(checkpoint_env):
    at = opened("6_Few-shot_9.py", k="3", **{"example-seed": "5"})
    assert at.sidebar.slider(key="k").value == 3 and at.sidebar.number_input(key="example-seed").value == 5
    assert link_warnings(at) == []
    at = opened("6_Few-shot_9.py", k="0", dim="999")
    assert len(link_warnings(at)) == 2 and at.sidebar.slider(key="k").value == 10


def bound_keys(page: Path) -> set[str]:
    """The address keys of a page's linked controls (``ui.linked``, ``ui.seed_input``)."""
    seed_default = inspect.signature(ui.seed_input).parameters["key"].default
    keys = set()
    for call in ast.walk(ast.parse(page.read_text())):
        name = getattr(call, "func", None)
        if isinstance(call, ast.Call) and isinstance(name, ast.Attribute) and name.attr in ("linked", "seed_input"):
            given = [ast.literal_eval(k.value) if isinstance(k.value, ast.Constant) else ast.unparse(k.value)
                     for k in call.keywords if k.arg == "key"]
            keys.add(given[0] if given else seed_default)
    return keys


SHARED = {"temperature"}  # the same slider, 0 to 1.5, on Samples and Few-shot 9


def test_an_address_key_names_one_control_across_the_app():
    """Streamlit can carry a linked control's value to another page's control of the same key: a 'steps' of 8 from
    the Samples page's solver once reached the Few-shot page's fine-tuning slider (10 to 200) and stopped the page.
    So a key means one control, on whichever page it appears."""
    pages = {page.name: bound_keys(page) for page in sorted(PAGES.glob("*.py"))}
    assert pages["6_Few-shot_9.py"] >= {"tune-steps", "per-method", "sample-seed"}  # the walk finds the controls
    seen: dict[str, str] = {}
    for page, keys in pages.items():
        for key in keys - SHARED:
            assert key not in seen, f"{page} and {seen[key]} both link a control as {key!r}"
            seen[key] = page
