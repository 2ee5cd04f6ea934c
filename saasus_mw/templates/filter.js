// Progressive enhancement: without JavaScript every tenant is listed.
(function () {
  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  var items = Array.prototype.slice.call(document.querySelectorAll("ul.tenants li"));
  if (!box || !input || !status) return;
  // The tenant name is the label's first text; plan, role and reason are not searched.
  var names = items.map(function (item) {
    return item.querySelector("label").firstChild.textContent.toLowerCase();
  });
  box.hidden = false;
  input.addEventListener("input", function () {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item, i) {
      var match = names[i].indexOf(query) !== -1;
      item.hidden = !match;
      if (match) shown += 1;
    });
    status.textContent = status.getAttribute("data-template")
      .replace("{shown}", String(shown)).replace("{total}", String(items.length));
  });
})();
