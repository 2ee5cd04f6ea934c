// Progressive enhancement: without JavaScript every tenant is listed.
(function () {
  var box = document.getElementById("filter-box");
  var input = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  var items = Array.prototype.slice.call(document.querySelectorAll("ul.tenants li"));
  if (!box || !input || !status) return;
  box.hidden = false;
  input.addEventListener("input", function () {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item) {
      var match = item.getAttribute("data-name").indexOf(query) !== -1;
      item.hidden = !match;
      if (match) shown += 1;
    });
    status.textContent = status.getAttribute("data-template")
      .replace("{shown}", String(shown)).replace("{total}", String(items.length));
  });
})();
