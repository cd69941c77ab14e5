// The page's "Duplicates" view: groups of copies in one namespace, from GET /api/v1/duplicates,
// each as thumbnails with the copy to keep first. It uses what app.js exposes as window.sameSame.
"use strict";

(() => {
  const page = window.sameSame;
  const $ = (id) => document.getElementById(id);
  const els = {
    open: $("duplicates-button"),
    close: $("duplicates-close"),
    view: $("duplicates"),
    status: $("duplicates-status"),
    groups: $("duplicate-groups"),
  };
  let hiddenBefore = [];
  let sequence = 0;

  function member(record, namespace, role) {
    const meta = record.metadata || {};
    const name = meta.filename || meta.path || record.id;
    const figure = document.createElement("figure");
    figure.className = `duplicate ${role}`;
    figure.dataset.id = record.id;
    const link = document.createElement("a");
    link.className = "thumb";
    link.href = page.imageUrl(record.id, namespace);
    link.target = "_blank";
    link.rel = "noopener";
    link.setAttribute("aria-label", `Open ${name}`);
    link.addEventListener("click", (event) => page.openOriginal(event, link.href));
    if (meta.type === "image") {
      const img = document.createElement("img");
      img.loading = "lazy";
      img.width = 160;
      img.height = 160;
      img.alt = name;
      img.addEventListener("error", () => page.markBroken(img));
      page.setImageSource(img, page.thumbnailUrl(record.id, namespace, 256));
      link.append(img);
    } else {
      link.textContent = record.id;
    }
    const caption = document.createElement("figcaption");
    const title = document.createElement("span");
    title.className = "filename";
    title.textContent = name;
    title.title = meta.path || name;
    const how = document.createElement("span");
    how.className = "duplicate-score";
    if (role === "keeper") how.textContent = "keep";
    else how.textContent = record.exact ? "identical" : `${Math.round(record.score * 1000) / 10}% similar`;
    caption.append(title, how);
    figure.append(link, caption);
    return figure;
  }

  function render(report) {
    const items = report.groups.map((group, index) => {
      const item = document.createElement("li");
      item.className = "duplicate-group";
      item.dataset.keeper = group.keeper.id;
      const heading = document.createElement("h3");
      heading.textContent = `Group ${index + 1}: ${group.size} copies`;
      const row = document.createElement("div");
      row.className = "duplicate-row";
      row.append(member(group.keeper, report.namespace, "keeper"));
      for (const copy of group.members) row.append(member(copy, report.namespace, "copy"));
      item.append(heading, row);
      return item;
    });
    els.groups.replaceChildren(...items);
    const source = report.default_threshold ? "measured for this model" : "as asked";
    const shown = report.groups.length < report.total_groups ? `, the ${report.groups.length} largest shown` : "";
    els.status.textContent = report.total_groups
      ? `${report.total_groups} group${report.total_groups === 1 ? "" : "s"} of duplicates among ${report.scanned} records in ${report.namespace}${shown} (similarity threshold ${report.threshold.toFixed(3)}, ${source}).`
      : `No duplicates among ${report.scanned} records in ${report.namespace}.`;
  }

  async function show() {
    hiddenBefore = page.searchArea.map((element) => [element, element.hidden]);
    for (const element of page.searchArea) element.hidden = true;
    els.view.hidden = false;
    els.groups.replaceChildren();
    page.clearError();
    const namespace = page.chosenNamespace();
    if (!namespace) {
      els.status.textContent = "Choose one namespace above to look for duplicates in it.";
      return;
    }
    const mine = ++sequence;
    els.status.textContent = `Looking for duplicates in ${namespace}…`;
    try {
      const report = await page.api(`/api/v1/duplicates?namespace=${encodeURIComponent(namespace)}`);
      if (mine !== sequence) return;
      render(report);
    } catch (error) {
      if (mine !== sequence) return;
      els.status.textContent = "";
      page.showError(error);
    } finally {
      if (mine === sequence) document.body.dataset.duplicates = String(Number(document.body.dataset.duplicates || 0) + 1);
    }
  }

  function hide() {
    sequence++;
    els.view.hidden = true;
    for (const [element, wasHidden] of hiddenBefore) element.hidden = wasHidden;
    hiddenBefore = [];
  }

  els.open.addEventListener("click", () => (els.view.hidden ? show() : hide()));
  els.close.addEventListener("click", hide);
  $("search-form").addEventListener("submit", () => { if (!els.view.hidden) hide(); }, true);
})();
