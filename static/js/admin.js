// Admin pages: a "select all" checkbox for bulk actions (works after htmx swaps too).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  var form = box.closest("form");
  if (!form) return;
  form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (each) {
    each.checked = box.checked;
  });
});
