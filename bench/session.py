"""One user's Streamlit session, driven over the app's own websocket protocol instead of through a browser.

The browser holds a websocket to ``/_stcore/stream``; it asks the server to run a page by sending a ``BackMsg``
(page, query string, widget values) and draws the ``ForwardMsg`` deltas that come back until ``script_finished``.
This client does the same without drawing: it keeps the widgets' values and the link it opened, fetches every image the page shows (as a browser would) and reports exceptions and error messages.
A widget inside a fragment (``st.fragment``) reruns that fragment only, as the browser asks for.
The server cannot tell it from a browser, so a classroom of them loads the server as a classroom does, at a
fraction of the client-side cost (one Chromium per student would not fit on a small machine).
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect


@dataclass
class Run:
    """What one script run showed: its elements by type, widgets by label, images, problems, and its duration."""

    seconds: float = 0.0
    elements: list[tuple[str, object]] = field(default_factory=list)  # (type, proto) in arrival order
    widgets: dict[str, tuple[str, object]] = field(default_factory=dict)  # label -> (type, proto)
    fragments: dict[str, str] = field(default_factory=dict)  # label -> id of the fragment the widget is in
    images: list[str] = field(default_factory=list)  # media URLs
    problems: list[str] = field(default_factory=list)  # exceptions, error alerts, media that did not load

    def texts(self, kind: str = "markdown") -> list[str]:
        return [element.body for type_, element in self.elements if type_ == kind]


class Session:
    """A websocket session on a running app at ``url`` (``http://host:port``); use as a context manager."""

    def __init__(self, url: str, timeout: float = 600, cookie: str | None = None):
        """``cookie`` goes with every request, as a browser sends what a proxy set (a sticky-session route)."""
        self.url, self.timeout = url, timeout
        self.headers = {"Cookie": cookie} if cookie else {}
        self.socket = connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                              max_size=None, open_timeout=timeout, additional_headers=self.headers)
        self.page, self.query = "", ""
        self.states: dict[str, WidgetState] = {}  # the widget values this user has set on the current page
        self.last = Run()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()

    def open(self, page: str, query: str = "") -> Run:
        """Open ``page`` (its URL path, e.g. ``Samples``; ``""`` for Home) with a link's query string."""
        self.page, self.query, self.states = page, query, {}
        return self.rerun()

    def set(self, label: str, value) -> Run:
        """Give the widget labelled ``label`` on the last run a new value, as a person would, and rerun."""
        if label not in self.last.widgets:
            raise KeyError(f"no widget {label!r} on {self.page or 'Home'}; there are {sorted(self.last.widgets)}")
        kind, widget = self.last.widgets[label]
        state = WidgetState(id=widget.id)
        values = value if isinstance(value, list) else [value]
        if kind == "slider" and widget.type == Slider.SELECT_SLIDER:
            state.string_array_value.data.extend([str(v) for v in values])
        elif kind == "slider":
            state.double_array_value.data.extend([float(v) for v in values])
        elif kind in ("selectbox", "radio"):
            state.string_value = str(value)
        elif kind in ("multiselect", "button_group"):
            state.string_array_value.data.extend([str(v) for v in values])
        elif kind == "number_input" and widget.data_type == NumberInput.INT:
            state.int_value = int(value)
        elif kind == "number_input":
            state.double_value = float(value)
        elif kind == "checkbox":
            state.bool_value = bool(value)
        elif kind == "button":
            state.trigger_value = True
        else:
            raise NotImplementedError(f"setting a {kind} widget")
        return self.rerun(state, self.last.fragments.get(label, ""))

    def rerun(self, change: WidgetState | None = None, fragment: str = "") -> Run:
        """Run the current page (or only its ``fragment``) with every widget value set so far (plus ``change``) and
        wait for it to finish; a fragment's run keeps what the rest of the page showed last."""
        message = BackMsg()
        client = message.rerun_script
        client.page_name, client.query_string, client.fragment_id = self.page, self.query, fragment
        if change is not None:
            self.states[change.id] = change
        client.widget_states.widgets.extend(self.states.values())
        if change is not None and change.WhichOneof("value") == "trigger_value":
            del self.states[change.id]  # a button press is sent once, not kept
        started = time.perf_counter()
        self.socket.send(message.SerializeToString())
        run = self._receive()
        for url in run.images:
            self._fetch(url, run)
        run.seconds = time.perf_counter() - started
        if fragment:
            run.widgets, run.fragments = {**self.last.widgets, **run.widgets}, {**self.last.fragments, **run.fragments}
        self.last = run
        return run

    def _receive(self) -> Run:
        run = Run()
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(self.socket.recv(timeout=self.timeout))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                self._element(forward.delta.new_element, run, forward.delta.fragment_id)
            elif kind == "script_finished":
                if forward.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    run = Run()  # the page asked for a rerun (st.rerun); what counts is the run that completes
                    continue
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    run.problems.append("compile error")
                return run

    @staticmethod
    def _element(element, run: Run, fragment: str) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        run.elements.append((kind, proto))
        if getattr(proto, "id", "") and getattr(proto, "label", ""):
            run.widgets[proto.label] = (kind, proto)
            if fragment:
                run.fragments[proto.label] = fragment
        if kind == "imgs":
            run.images += [image.url for image in proto.imgs]
        elif kind == "exception":
            run.problems.append(f"exception: {proto.type}: {proto.message[:200]}")
        elif kind == "alert" and proto.format == Alert.ERROR:
            run.problems.append(f"error: {proto.body[:200]}")

    def _fetch(self, url: str, run: Run) -> None:
        if url.startswith("data:"):
            return
        try:
            request = urllib.request.Request(self.url + url if url.startswith("/") else url, headers=self.headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                r.read()
        except OSError as err:
            run.problems.append(f"image {url}: {err}")
