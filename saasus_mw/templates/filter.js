// Progressive enhancement: without JavaScript every tenant is listed and the browser
// checks that one is chosen. With it: a filter, a button that says what it will do, and
// a form that never submits a choice the buyer cannot see, nor an empty one, without
// saying so. Only the button completes the purchase: the filter is outside the form
// (Enter there submits nothing), and Enter on a radio button only chooses.
(function () {
  var form = document.getElementById("picker");
  var problem = document.getElementById("submit-problem");
  var button = document.getElementById("submit");
  var newChoice = document.getElementById("t-new");
  var newName = document.getElementById("new_tenant_name");
  if (!form || !problem) return;
  form.noValidate = true; // our messages replace the browser's, which cannot point at a hidden row

  function sync() {
    if (newName) newName.disabled = !(newChoice && newChoice.checked);
    if (button) button.textContent = button.getAttribute(newChoice && newChoice.checked ? "data-new" : "data-existing");
  }
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.type === "radio") event.preventDefault();
  });
  form.addEventListener("submit", function (event) {
    var chosen = form.querySelector('input[name="tenant_id"]:checked');
    var message = "";
    // The filter never hides the chosen row (below), so what is sent is always on screen.
    if (!chosen) message = problem.getAttribute("data-none");
    else if (chosen === newChoice && newName && !newName.value.trim()) message = problem.getAttribute("data-name");
    if (!message) return;
    event.preventDefault();
    problem.textContent = message;
    problem.hidden = false;
    problem.focus();
  });
  sync();

  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  var list = document.querySelector("ul.tenants");
  var empty = document.getElementById("filter-empty");
  var items = list ? Array.prototype.slice.call(list.querySelectorAll("li")) : [];
  // The tenant name is the label's first element; reason, plan and role are not searched.
  var names = items.map(function (item) {
    return item.querySelector("label").firstChild.textContent.toLowerCase();
  });
  var kept = document.createElement("span"); // why a chosen row stays while filtered out
  kept.className = "kept";
  kept.textContent = list ? list.getAttribute("data-kept") : "";

  function filter() {
    if (!input || !status) return;
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    if (kept.parentNode) kept.parentNode.removeChild(kept);
    items.forEach(function (item, i) {
      var matches = names[i].indexOf(query) !== -1;
      var chosen = item.querySelector("input").checked;
      // The chosen row stays visible: what is submitted is always on screen.
      item.hidden = !(matches || chosen);
      if (chosen && !matches) item.querySelector("label").appendChild(kept);
      if (!item.hidden) shown += 1;
    });
    list.hidden = shown === 0; // no empty box: the list's place says nothing matches
    if (empty) empty.hidden = shown !== 0;
    status.textContent = query
      ? status.getAttribute("data-template").replace("{shown}", String(shown)).replace("{total}", String(items.length))
      : "";
  }
  form.addEventListener("change", function (event) {
    // A new choice only. Leaving the filter or the name field also fires "change", on
    // the mousedown of the click that leaves it: hiding the message then would move
    // the button or radio from under the pointer before the mouseup, losing the click.
    if (event.target.name !== "tenant_id") return;
    sync();
    problem.hidden = true;
    if (input && input.value.trim()) filter();
  });
  if (!box || !input || !status || !list) return;
  box.hidden = false;
  input.addEventListener("input", filter);
})();
