"""Driving the people picker (dashboards/people/picker.py) and replaying a dashboard callback
in a browser test."""

from __future__ import annotations

import json


def pick_person(page, prefix: str, typed: str, option: str) -> None:
    """Search the picker ``prefix`` for ``typed`` and choose the option showing ``option``."""
    page.click(f"#{prefix}-picker-search button.dash-dropdown")
    search = page.locator(".dash-dropdown-content input.dash-dropdown-search")
    search.fill(typed)
    page.locator(".dash-dropdown-content [role=option]", has_text=option).click()
    page.keyboard.press("Escape")
    page.wait_for_selector(".dash-dropdown-content", state="detached")


def add_group(page, prefix: str, group: str) -> None:
    """Add every member of a department or cohort (``group`` as its option reads) to the picker."""
    page.click(f"#{prefix}-picker button.lo-picker-group")
    page.locator(".dash-dropdown-content [role=option]", has_text=group).click()
    page.wait_for_selector(".dash-dropdown-content", state="detached")
    page.locator(f"#{prefix}-picker button", has_text="Add all").click()


def choose(page, dropdown: str, option: str) -> None:
    """Choose ``option`` of the dropdown whose id is ``dropdown``."""
    page.click(f"#{dropdown}")
    page.locator(".dash-dropdown-content [role=option]", has_text=option).first.click()
    page.wait_for_selector(".dash-dropdown-content", state="detached")


def replay(page, server, button: str, values: dict) -> tuple[int, str]:
    """POST the callback of ``button`` as Dash's renderer would, with forged state ``values`` (by
    component id as the dependency map writes it); returns (status, body)."""
    deps = page.request.get(server.url + "/dashboard/_dash-dependencies").json()
    spec = next(d for d in deps if any(i["id"] == button for i in d["inputs"]))
    outputs = []
    for part in spec["output"].strip(".").split("..."):
        component, prop = part.rsplit(".", 1)
        ident = json.loads(component) if component.startswith("{") else component
        outputs.append({"id": ident, "property": prop.split("@")[0]})
    state = [{"id": json.loads(s["id"]) if s["id"].startswith("{") else s["id"], "property": s["property"],
              "value": values.get(s["id"])} for s in spec["state"]]
    body = {"output": spec["output"], "outputs": outputs, "changedPropIds": [f"{button}.n_clicks"],
            "inputs": [{"id": button, "property": "n_clicks", "value": 1}], "state": state}
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "liftoff_csrf")
    response = page.request.post(server.url + "/dashboard/_dash-update-component", data=json.dumps(body),
                                 headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    return response.status, response.text()
