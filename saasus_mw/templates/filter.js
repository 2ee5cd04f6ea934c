// Progressive enhancement: without JavaScript every tenant is listed and the browser
// checks that one is chosen. With it: a filter, and a form that never submits a
// choice the buyer cannot see, nor an empty one, without saying so.
(function () {
  var form = document.getElementById("picker");
  var problem = document.getElementById("submit-problem");
  var newChoice = document.getElementById("t-new");
  var newName = document.getElementById("new_tenant_name");
  if (!form || !problem) return;
  form.noValidate = true; // our messages replace the browser's, which cannot point at a hidden row

  function syncName() {
    if (newName) newName.disabled = !(newChoice && newChoice.checked);
  }
  form.addEventListener("change", function (event) {
    // A new choice only. Leaving the filter or the name field also fires "change", on
    // the mousedown of the click that leaves it: hiding the message then would move
    // the button or radio from under the pointer before the mouseup, losing the click.
    if (event.target.name !== "tenant_id") return;
    syncName();
    problem.hidden = true;
  });
  syncName();

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

  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  if (!box || !input || !status) return;
  var items = Array.prototype.slice.call(document.querySelectorAll("ul.tenants li"));
  // The tenant name is the label's first text; plan, role and reason are not searched.
  var names = items.map(function (item) {
    return item.querySelector("label").firstChild.textContent.toLowerCase();
  });
  box.hidden = false;
  input.addEventListener("input", function () {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item, i) {
      // The chosen row stays visible: what is submitted is always on screen.
      var match = names[i].indexOf(query) !== -1 || item.querySelector("input").checked;
      item.hidden = !match;
      if (match) shown += 1;
    });
    status.textContent = status.getAttribute("data-template")
      .replace("{shown}", String(shown)).replace("{total}", String(items.length));
  });
})();
