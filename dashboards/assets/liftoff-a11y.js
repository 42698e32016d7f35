/* Liftoff dashboard behaviour that needs no server round trip: the phone menu, dialogs that take
   focus and close on Esc, and accessibility repairs of Dash 4's own components (see below).
   Dash loads every script in assets/ after its renderer; React re-renders, so the repairs run again
   on each DOM change (each one only touches elements that still need it, so it settles). */
(function () {
  "use strict";

  function toggleMenu(button) {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var header = button.closest(".lo-navbar");
    if (header) { header.classList.toggle("lo-nav-open", open); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#nav-menu-button");
    if (button) { toggleMenu(button); }
  });

  // Esc closes the open dialog the way its Cancel button does (the page's callback resets it).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var dialog = document.querySelector(".lo-dialog-open");
    if (!dialog) { return; }
    var cancel = dialog.querySelector("[id$='-cancel'], .lo-dialog-buttons .lo-btn-secondary");
    if (cancel) { cancel.click(); }
  });

  var focusable = "input:not([type=hidden]):not([disabled]), textarea, select, button:not([disabled])";
  var seenOpen = new WeakSet();

  function repair() {
    // A dialog that just opened takes the focus (its first field), so keyboard users land in it.
    document.querySelectorAll(".lo-dialog-open").forEach(function (dialog) {
      if (seenOpen.has(dialog)) { return; }
      seenOpen.add(dialog);
      var first = dialog.querySelector(focusable);
      if (first) { first.focus(); }
    });
    document.querySelectorAll(".lo-dialog:not(.lo-dialog-open)").forEach(function (dialog) {
      seenOpen.delete(dialog);
    });
    // Dash 4's dropdown puts the Tab stop on an aria-hidden proxy input that forwards focus to its
    // (untabbable) button: screen readers meet a hidden focusable. Make the button the Tab stop.
    document.querySelectorAll("input.dash-dropdown-focus-target[tabindex='0']").forEach(function (proxy) {
      var button = proxy.parentElement && proxy.parentElement.querySelector("button");
      if (button && !button.disabled) {
        proxy.setAttribute("tabindex", "-1");
        button.setAttribute("tabindex", "0");
      }
    });
    // Dash 4's checklists and radio items are listboxes of options that each hold an input
    // (nested controls, and a listbox without a name): they are groups of labelled inputs.
    document.querySelectorAll("div[role=listbox]:not(.dash-dropdown-content div)").forEach(function (box) {
      if (!box.querySelector("input[type=checkbox], input[type=radio]")) { return; }
      box.setAttribute("role", "group");
      var label = box.id && document.querySelector("label[for='" + CSS.escape(box.id) + "']");
      if (label && !box.hasAttribute("aria-labelledby")) {
        if (!label.id) { label.id = box.id + "-label"; }
        box.setAttribute("aria-labelledby", label.id);
      }
    });
    document.querySelectorAll("div[role=group] > label[role=option]").forEach(function (option) {
      option.removeAttribute("role");
      option.removeAttribute("aria-selected");
    });
    document.querySelectorAll("div[role=group] > label[aria-selected]").forEach(function (option) {
      option.removeAttribute("aria-selected");
    });
    // dcc.Upload's file input has no label of its own: it is named by the button text around it.
    document.querySelectorAll(".lo-picker-upload input[type=file]:not([aria-label])").forEach(function (input) {
      var text = (input.closest(".lo-picker-upload").textContent || "").trim();
      input.setAttribute("aria-label", text || "Upload a list of people");
    });
  }

  var scheduled = false;
  new MutationObserver(function () {
    if (scheduled) { return; }
    scheduled = true;
    window.requestAnimationFrame(function () { scheduled = false; repair(); });
  }).observe(document.documentElement, {childList: true, subtree: true, attributes: true,
                                       attributeFilter: ["class", "role", "aria-selected", "tabindex"]});
})();
