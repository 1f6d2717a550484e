"use strict";
// The leaderboard's sorting, filtering and columns: a header's button sorts by its column (again: the other way);
// the selects and the search box hide the lines that do not match; the column chooser shows and hides columns.
// Cells carry the raw value in data-value (empty: none, sorted last whichever the direction).
(function () {
  const table = document.getElementById("board");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);

  function value(row, index, numeric) {
    const raw = row.cells[index].dataset.value;
    if (raw === "") return null;
    return numeric ? Number(raw) : raw.toLowerCase();
  }

  function sortBy(index) {
    const header = headers[index];
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    const numeric = header.dataset.numeric === "true";
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = value(a, index, numeric);
      const y = value(b, index, numeric);
      if (x === null || y === null) return (x === null) - (y === null);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });  // stable: equal values keep their order
    headers.forEach((h) => h.setAttribute("aria-sort", "none"));
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    body.append(...rows);
  }

  headers.forEach((header, index) => {
    header.querySelector("button").addEventListener("click", () => sortBy(index));
  });

  const selects = Array.from(document.querySelectorAll("#filters select"));
  const search = document.getElementById("filter-text");
  const shown = document.getElementById("shown");

  function filter() {
    const words = search.value.trim().toLowerCase();
    let visible = 0;
    for (const row of body.rows) {
      const match = selects.every((s) => !s.value || row.dataset[s.dataset.key] === s.value)
        && (!words || row.textContent.toLowerCase().includes(words));
      row.hidden = !match;
      visible += match ? 1 : 0;
    }
    shown.textContent = visible + " of " + body.rows.length + " lines shown";
  }

  selects.forEach((s) => s.addEventListener("change", filter));
  search.addEventListener("input", filter);
  filter();

  // The column chooser: a column unticked is hidden by a rule of #hidden-columns (its nth-child), so sorting and
  // filtering need not know of it. A box's default (its checked attribute) is the default view.
  const hidden = document.getElementById("hidden-columns");
  const boxes = Array.from(document.querySelectorAll("#column-chooser input[type=checkbox]"));
  const counted = document.getElementById("columns-shown");

  function placeLabel() {  // the variant's cell sticks right of the rank's, however wide the rank's column is
    table.style.setProperty("--label-left", headers[0].getBoundingClientRect().width + "px");
  }

  function showColumns() {
    hidden.textContent = boxes.filter((b) => !b.checked)
      .map((b) => "#board tr > :nth-child(" + b.value + ") { display: none; }").join("\n");
    counted.textContent = boxes.filter((b) => b.checked).length + " of " + boxes.length;
    placeLabel();
  }

  boxes.forEach((b) => b.addEventListener("change", showColumns));
  document.getElementById("columns-all").addEventListener("click", () => {
    boxes.forEach((b) => { b.checked = true; });
    showColumns();
  });
  document.getElementById("columns-default").addEventListener("click", () => {
    boxes.forEach((b) => { b.checked = b.defaultChecked; });
    showColumns();
  });
  placeLabel();
})();
