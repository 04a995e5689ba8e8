// crashbox dashboard: progressive enhancement only. Every page works without this file.
"use strict";
(function () {
  // Local time: <time datetime="…Z"> shows UTC text from the server; show the browser's zone.
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) { fmt = null; }
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    el.title = el.textContent;
    el.textContent = fmt ? fmt.format(d) : d.toLocaleString();
  });

  // Confirmation in place: a form with data-confirm asks, then posts confirm=yes.
  // Without JavaScript the server answers with a confirmation page instead.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        ev.preventDefault();
        return;
      }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "confirm";
      input.value = "yes";
      form.appendChild(input);
    });
  });

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var label = btn.textContent;
      navigator.clipboard.writeText(target.textContent).then(function () {
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = label; }, 1500);
      }, function () {
        btn.textContent = "Copy failed";
      });
    });
  });

  // The add-channel form: only the chosen kind's fieldset is shown (all are, without JS).
  var kind = document.getElementById("ch-kind");
  if (kind) {
    var showKind = function () {
      document.querySelectorAll("fieldset[data-kinds]").forEach(function (fs) {
        fs.hidden = fs.getAttribute("data-kinds").split(" ").indexOf(kind.value) < 0;
      });
      var token = document.getElementById("ch-token");
      if (token) token.closest(".field").hidden = kind.value !== "ntfy";
    };
    kind.addEventListener("change", showKind);
    showKind();
  }

  document.querySelectorAll("[data-back]").forEach(function (btn) {
    if (history.length < 2) return;
    btn.hidden = false;
    btn.addEventListener("click", function () { history.back(); });
  });
})();
