"""What a browser would submit from a page's form, untouched.

The rules of HTML's form submission, for the controls our pages use: named
inputs with their ``value`` (checkboxes and radios only when checked),
textareas with their text, a select with its selected options (a single
select with none selected: its first), and the submit button that was
pressed. Tests post this to prove a page's first Save works.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

from host.api.pages import csrf_token


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.buttons: list[tuple[str, str]] = []
        self.inputs: list[dict] = []
        self._select: dict | None = None
        self._textarea: dict | None = None
        self._in_form = False

    def handle_starttag(self, tag, attrs) -> None:
        attributes = {name: value if value is not None else "" for name, value in attrs}
        if tag == "form":
            self._in_form = True
        if not self._in_form:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            self.inputs.append(attributes)
            if kind in ("checkbox", "radio"):
                if "checked" in attributes:
                    self.fields.append((name, attributes.get("value", "on")))
            elif kind == "submit":
                self.buttons.append((name, attributes.get("value", "")))
            else:
                self.fields.append((name, attributes.get("value", "")))
        elif tag == "button" and name:
            self.buttons.append((name, attributes.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": ""}
            self.inputs.append(attributes)
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in attributes,
                            "options": [], "selected": []}  # fmt: skip
            self.inputs.append(attributes)
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            self._select["options"].append(value)
            if "selected" in attributes:
                self._select["selected"].append(value)

    def handle_data(self, data) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea["name"], self._textarea["text"]))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            select, self._select = self._select, None
            chosen = select["selected"]
            if not chosen and not select["multiple"] and select["options"]:
                chosen = select["options"][:1]
            self.fields.extend((select["name"], value) for value in chosen)


def untouched(html: str, press: tuple[str, str]) -> tuple[str, list[dict]]:
    """The page's forms' submission as a browser makes it when the user
    changes nothing and presses the button ``press`` (name, value); also
    the controls (their attributes), for checks on them."""
    form = _Form()
    form.feed(html)
    assert press in form.buttons, f"no button {press} on the page: {form.buttons}"
    return urlencode([*form.fields, press]), form.inputs


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class ConsoleBrowser:
    """A cookie jar and form posts, enough to use the console."""

    def __init__(self, client):
        self.client = client
        self.cookies: dict[str, str] = {}

    def _headers(self, extra=None):
        jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**({"Cookie": jar} if jar else {}), **(extra or {})}

    def _keep(self, answer):
        for name, cookie in answer.cookies.items():
            self.cookies[name] = cookie.value
        return answer

    def get(self, path, **params):
        return self._keep(
            self.client.simulate_get(path, params=params, headers=self._headers())
        )

    def post(self, path, data, csrf=True, headers=None):
        if csrf:
            data = {"_csrf": csrf_token(self.cookies["tb_console"]), **data}
        return self._keep(
            self.client.simulate_post(
                path,
                body=urlencode(data, doseq=True),
                headers=self._headers({**FORM, **(headers or {})}),
            )
        )
