// The same-same search page. Plain JavaScript, no build step: it only talks to /api/v1.
"use strict";

(() => {
  const PAGE_SIZE = 24;
  const MAX_LIMIT = 1000;
  const THUMB_SIZE = 256;
  const KEY_STORAGE = "same-same.api-key";

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("search-form"),
    query: $("query"),
    searchButton: $("search-button"),
    pickImage: $("pick-image"),
    imageInput: $("image-input"),
    namespace: $("namespace"),
    typeFilter: $("type-filter"),
    mode: $("search-mode"),
    noGoodMatch: $("no-good-match"),
    noGoodMatchDetail: $("no-good-match-detail"),
    showClosest: $("show-closest"),
    labelFilter: $("label-filter"),
    dateFrom: $("date-from"),
    dateTo: $("date-to"),
    labelOptions: $("label-options"),
    apiKeyButton: $("api-key-button"),
    queryImage: $("query-image"),
    queryImagePreview: $("query-image-preview"),
    queryImageName: $("query-image-name"),
    clearImage: $("clear-image"),
    error: $("error"),
    errorMessage: $("error-message"),
    errorHint: $("error-hint"),
    errorCode: $("error-code"),
    errorKey: $("error-key"),
    errorDismiss: $("error-dismiss"),
    status: $("status"),
    empty: $("empty-state"),
    recheck: $("recheck"),
    welcome: $("welcome"),
    welcomeCount: $("welcome-count"),
    results: $("results"),
    more: $("more"),
    dropOverlay: $("drop-overlay"),
    keyDialog: $("key-dialog"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyForget: $("key-forget"),
    keyCancel: $("key-cancel"),
    imageCard: $("image-card"),
    textCard: $("text-card"),
  };

  // What is being searched: {kind: "text", text} | {kind: "file", file} | {kind: "id", id, name}
  const state = {
    query: null,
    limit: PAGE_SIZE,
    namespaces: [],
    labels: new Set(),
    sequence: 0,
    retry: null,
    queryImageUrl: null,
    lastResponse: null,
    showClosest: false,
  };

  // -- the API -------------------------------------------------------------

  class ApiError extends Error {
    constructor({ status = 0, code = "network_error", message, hint = null }) {
      super(message);
      this.status = status;
      this.code = code;
      this.hint = hint;
    }
  }

  function apiKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  function authHeaders() {
    const key = apiKey();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  async function api(path, { method = "GET", json, form } = {}) {
    const headers = { Accept: "application/json", ...authHeaders() };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body });
    } catch {
      throw new ApiError({
        message: "Cannot reach the same-same server.",
        hint: "Is `same-same serve` still running? Reload the page once it is.",
      });
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const detail = data && typeof data.detail === "string" ? data.detail : null;
      throw new ApiError({
        status: response.status,
        code: err.code || `http_${response.status}`,
        message: err.message || detail || `The server answered ${response.status} ${response.statusText}.`,
        hint: err.hint || null,
      });
    }
    if (data === null) {
      throw new ApiError({ status: response.status, code: "bad_response", message: "The server sent a response that is not JSON." });
    }
    return data;
  }

  // Thumbnails are <img> elements, which cannot send an API key. Without a key the
  // browser loads them lazily by itself; with one they are fetched when they scroll near.
  const blobUrls = new Map();
  const lazyLoader = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (entry.isIntersecting) {
          lazyLoader.unobserve(entry.target);
          loadWithKey(entry.target);
        }
      }
    }, { rootMargin: "300px" })
    : null;

  async function fetchBlobUrl(url) {
    if (blobUrls.has(url)) return blobUrls.get(url);
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) throw new Error(`${response.status}`);
    const objectUrl = URL.createObjectURL(await response.blob());
    blobUrls.set(url, objectUrl);
    return objectUrl;
  }

  function loadWithKey(img) {
    fetchBlobUrl(img.dataset.src).then((url) => { img.src = url; }, () => markBroken(img));
  }

  function setImageSource(img, url) {
    if (!apiKey()) {
      img.src = url;
      return;
    }
    img.dataset.src = url;
    if (lazyLoader) lazyLoader.observe(img);
    else loadWithKey(img);
  }

  function markBroken(img) {
    img.classList.add("broken");
  }

  // The namespace picks the right record when two namespaces hold the same id.
  const inNamespace = (namespace) => (namespace ? `namespace=${encodeURIComponent(namespace)}` : "");
  const thumbnailUrl = (id, namespace, size = THUMB_SIZE) =>
    `/api/v1/vectors/${encodeURIComponent(id)}/thumbnail?size=${size}&${inNamespace(namespace)}`.replace(/&$/, "");
  const imageUrl = (id, namespace) =>
    `/api/v1/vectors/${encodeURIComponent(id)}/image?${inNamespace(namespace)}`.replace(/\?$/, "");

  // -- feedback ------------------------------------------------------------

  function showError(error) {
    const apiError = error instanceof ApiError ? error : new ApiError({ code: "page_error", message: String(error && error.message || error) });
    els.errorMessage.textContent = apiError.message;
    els.errorHint.textContent = apiError.hint || "";
    els.errorCode.textContent = apiError.status ? `${apiError.status} ${apiError.code}` : apiError.code;
    els.errorKey.hidden = apiError.status !== 401;
    els.error.hidden = false;
    if (apiError.status === 401) {
      els.apiKeyButton.hidden = false;
      openKeyDialog();
    }
  }

  function clearError() {
    els.error.hidden = true;
  }

  function setStatus(text, loading = false) {
    els.status.textContent = text;
    els.status.classList.toggle("loading", loading);
  }

  function setBusy(busy) {
    els.results.setAttribute("aria-busy", busy ? "true" : "false");
    els.searchButton.disabled = busy;
    els.more.disabled = busy;
  }

  // -- namespaces ----------------------------------------------------------

  const sameSpace = (a, b) =>
    a.embedder === b.embedder && a.model === b.model && a.pretrained === b.pretrained && a.dim === b.dim;

  async function loadNamespaces() {
    clearError();
    setStatus("Loading…", true);
    let data;
    try {
      data = await api("/api/v1/namespaces");
    } catch (error) {
      setStatus("");
      state.retry = loadNamespaces;
      showError(error);
      return false;
    }
    setStatus("");
    state.namespaces = data.namespaces || [];
    renderNamespaces();
    return true;
  }

  function renderNamespaces() {
    const namespaces = state.namespaces;
    const previous = els.namespace.value || new URLSearchParams(location.search).get("ns") || "";
    els.namespace.replaceChildren();
    const total = namespaces.reduce((sum, ns) => sum + (ns.count || 0), 0);
    const shared = namespaces.length > 1 && namespaces.every((ns) => sameSpace(ns.space, namespaces[0].space));
    if (shared) {
      els.namespace.append(new Option(`All (${total.toLocaleString()})`, ""));
    }
    for (const ns of namespaces) {
      els.namespace.append(new Option(`${ns.name} (${(ns.count || 0).toLocaleString()})`, ns.name));
    }
    if (!namespaces.length) els.namespace.append(new Option("none yet", ""));
    if ([...els.namespace.options].some((o) => o.value === previous)) els.namespace.value = previous;
    els.namespace.disabled = namespaces.length < 2;

    const empty = total === 0;
    els.empty.hidden = !empty;
    els.query.disabled = empty;
    els.searchButton.disabled = empty;
    els.pickImage.disabled = empty;
    if (empty) {
      els.results.replaceChildren();
      els.more.hidden = true;
      els.welcome.hidden = true;
    } else if (!state.query) {
      const kinds = namespaces.length === 1 ? `${total.toLocaleString()} items in ${namespaces[0].name}`
        : `${total.toLocaleString()} items in ${namespaces.length} namespaces`;
      els.welcomeCount.textContent = kinds;
      els.welcome.hidden = false;
    }
  }

  // -- searching -----------------------------------------------------------

  function currentFilters() {
    const filters = {};
    const type = els.typeFilter.value;
    // Text records may carry no "type" at all, so "text" means "anything but images".
    if (type === "image") filters.type = { eq: "image" };
    else if (type === "text") filters.type = { neq: "image" };
    const label = els.labelFilter.value.trim();
    if (label) filters.label = { eq: label };
    // taken_at is ISO 8601 (2024-06-15T18:30:00+02:00), so dates compare as strings:
    // "to" includes its whole day by stopping before the next one.
    const taken = {};
    if (els.dateFrom.value) taken.gte = els.dateFrom.value;
    if (els.dateTo.value) taken.lt = nextDay(els.dateTo.value);
    if (Object.keys(taken).length) filters.taken_at = taken;
    return Object.keys(filters).length ? filters : null;
  }

  function nextDay(isoDate) {
    const day = new Date(`${isoDate}T00:00:00Z`);
    day.setUTCDate(day.getUTCDate() + 1);
    return day.toISOString().slice(0, 10);
  }

  // The camera's own clock, as the photo's date says it (no time zone conversion).
  function formatTakenAt(takenAt) {
    const match = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}))?/.exec(takenAt);
    if (!match) return String(takenAt);
    return match[2] ? `${match[1]} ${match[2]}` : match[1];
  }

  function formatPlace(lat, lon) {
    const ns = lat >= 0 ? "N" : "S";
    const ew = lon >= 0 ? "E" : "W";
    return `${Math.abs(lat).toFixed(4)}°${ns} ${Math.abs(lon).toFixed(4)}°${ew}`;
  }

  function searchRequest() {
    const namespace = els.namespace.value || null;
    const filters = currentFilters();
    const query = state.query;
    if (query.kind === "file") {
      const form = new FormData();
      form.append("file", query.file, query.file.name || "image");
      form.append("limit", String(state.limit));
      if (namespace) form.append("namespace", namespace);
      if (filters) form.append("filters", JSON.stringify(filters));
      return ["/api/v1/search/image", { method: "POST", form }];
    }
    const json = { limit: state.limit };
    if (namespace) json.namespace = namespace;
    if (filters) json.filters = filters;
    if (query.kind === "id") return ["/api/v1/search/image", { method: "POST", json: { id: query.id, ...json } }];
    // Only text has words to match: pictures are always compared by meaning.
    if (els.mode.value && els.mode.value !== "vector") json.mode = els.mode.value;
    return ["/api/v1/search", { method: "POST", json: { text: query.text, ...json } }];
  }

  async function runSearch({ append = false } = {}) {
    if (!state.query) return;
    const sequence = ++state.sequence;
    clearError();
    els.welcome.hidden = true;
    setBusy(true);
    setStatus(append ? "Loading more…" : "Searching…", true);
    // The server loads a model on its first query; say so rather than look stuck.
    const slow = setTimeout(() => {
      if (sequence === state.sequence) setStatus("Still searching… the first search after a start loads the model.", true);
    }, 2500);
    try {
      const [path, options] = searchRequest();
      const data = await api(path, options);
      if (sequence !== state.sequence) return; // a newer search has started
      renderResults(data, append);
    } catch (error) {
      if (sequence !== state.sequence) return;
      setStatus("");
      state.retry = () => runSearch({ append });
      showError(error);
    } finally {
      clearTimeout(slow);
      if (sequence === state.sequence) {
        setBusy(false);
        // Lets tests (and anyone scripting the page) wait for a search to finish.
        document.body.dataset.searches = String(Number(document.body.dataset.searches || 0) + 1);
      }
    }
  }

  function startSearch(query) {
    state.query = query;
    state.limit = PAGE_SIZE;
    state.showClosest = false;
    rememberInUrl();
    showQueryImage();
    runSearch();
  }

  function rememberInUrl() {
    const params = new URLSearchParams();
    if (state.query && state.query.kind === "text") params.set("q", state.query.text);
    if (els.namespace.value) params.set("ns", els.namespace.value);
    if (els.typeFilter.value) params.set("type", els.typeFilter.value);
    if (els.mode.value && els.mode.value !== "vector") params.set("mode", els.mode.value);
    if (els.labelFilter.value.trim()) params.set("label", els.labelFilter.value.trim());
    if (els.dateFrom.value) params.set("from", els.dateFrom.value);
    if (els.dateTo.value) params.set("to", els.dateTo.value);
    const search = params.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  function showQueryImage() {
    const query = state.query;
    if (state.queryImageUrl) {
      URL.revokeObjectURL(state.queryImageUrl);
      state.queryImageUrl = null;
    }
    if (!query || query.kind === "text") {
      els.queryImage.hidden = true;
      return;
    }
    els.queryImage.hidden = false;
    els.queryImagePreview.classList.remove("broken");
    els.queryImagePreview.hidden = query.kind === "id" && !query.isImage;
    if (query.kind === "file") {
      state.queryImageUrl = URL.createObjectURL(query.file);
      els.queryImagePreview.src = state.queryImageUrl;
      els.queryImageName.textContent = query.file.name || "your image";
    } else {
      els.queryImagePreview.removeAttribute("src");
      if (query.isImage) setImageSource(els.queryImagePreview, thumbnailUrl(query.id, query.namespace, 128));
      els.queryImageName.textContent = query.name;
    }
  }

  // -- results -------------------------------------------------------------

  const percent = (value) => `${Math.round(value * 100)}%`;

  // The server judges whether anything matches (a calibrated relevance per model): when
  // nothing does, the page says so instead of showing the least bad noise.
  // Pictures given as examples ("more like this", a dropped file) always show their
  // neighbours: there the user browses, and the API's flag stays in the response. With
  // filters on, the user asked for those records: the banner shows above them.
  function renderResults(data, append) {
    state.lastResponse = data;
    const judged = Boolean(data.no_good_match) && state.query && state.query.kind === "text";
    const hideNoise = judged && !state.showClosest && !currentFilters() && (data.results || []).length > 0;
    els.noGoodMatch.hidden = !judged || state.showClosest;
    if (judged) {
      const best = typeof data.best_score === "number" ? `the closest scores ${data.best_score.toFixed(3)}` : "";
      const relevance = typeof data.best_relevance === "number" ? `, relevance ${percent(data.best_relevance)}` : "";
      els.noGoodMatchDetail.textContent = best
        ? `Nothing here looks like what you searched for (${best}${relevance}).`
        : "Nothing here looks like what you searched for.";
      els.showClosest.hidden = !hideNoise;
    }
    const results = hideNoise ? [] : data.results || [];
    const searched = data.namespaces || [];
    const cards = results.map((result) => renderCard(result, searched.length > 1));
    const keepScroll = append ? window.scrollY : null;
    els.results.replaceChildren(...cards);
    els.results.classList.toggle("text-only", results.length > 0 && results.every((r) => !isImageResult(r)));
    if (keepScroll !== null) window.scrollTo(0, keepScroll);

    const took = typeof data.took_ms === "number" ? ` in ${Math.round(data.took_ms)} ms` : "";
    if (hideNoise) {
      setStatus("");
    } else if (results.length === 0) {
      setStatus(currentFilters() ? "No results match these filters." : "No results.");
    } else {
      setStatus(`${results.length} result${results.length === 1 ? "" : "s"}${took}`);
    }
    // A full page may hide more; the namespaces' sizes tell when everything is already shown.
    const stored = state.namespaces.filter((ns) => searched.includes(ns.name)).reduce((sum, ns) => sum + (ns.count || 0), 0);
    const mayHaveMore = results.length >= state.limit && (stored === 0 || results.length < stored);
    els.more.hidden = !mayHaveMore || state.limit >= MAX_LIMIT;
    updateLabelOptions(results);
  }

  const isImageResult = (result) => (result.metadata || {}).type === "image";

  function renderCard(result, showNamespace) {
    const meta = result.metadata || {};
    const isImage = isImageResult(result);
    const card = (isImage ? els.imageCard : els.textCard).content.firstElementChild.cloneNode(true);
    card.dataset.id = result.id;
    card.dataset.namespace = result.namespace || "";
    card.dataset.score = String(result.score);
    if (typeof result.relevance === "number") card.dataset.relevance = String(result.relevance);
    const score = card.querySelector(".score");
    score.textContent = Number(result.score).toFixed(3);
    if (typeof result.relevance === "number") {
      // the relevance says more than a raw cosine, whose range depends on the model
      score.textContent = percent(result.relevance);
      score.classList.add("relevance");
      score.title = `Relevance ${percent(result.relevance)} (cosine ${Number(result.score).toFixed(3)})`;
    }
    if (typeof result.keyword_rank === "number") {
      card.dataset.keywordRank = String(result.keyword_rank);
      score.title += "; its words match the query";
    }

    const namespaceChip = card.querySelector(".namespace-chip");
    if (showNamespace && result.namespace) {
      namespaceChip.hidden = false;
      namespaceChip.textContent = result.namespace;
    }

    let name;
    if (isImage) {
      name = meta.filename || meta.path || result.id;
      const link = card.querySelector(".thumb");
      const ns = result.namespace;
      link.href = imageUrl(result.id, ns);
      link.setAttribute("aria-label", `Open ${name}`);
      link.addEventListener("click", (event) => openOriginal(event, link.href));
      const img = card.querySelector("img");
      img.alt = meta.label ? `${name} (${meta.label})` : name;
      img.addEventListener("error", () => markBroken(img));
      if (!apiKey()) img.srcset = `${thumbnailUrl(result.id, ns)} 1x, ${thumbnailUrl(result.id, ns, THUMB_SIZE * 2)} 2x`;
      setImageSource(img, thumbnailUrl(result.id, ns, window.devicePixelRatio > 1.5 && apiKey() ? THUMB_SIZE * 2 : THUMB_SIZE));
      card.querySelector(".filename").textContent = name;
      card.querySelector(".filename").title = name;
      const path = card.querySelector(".path");
      // The bidi isolate keeps a right-to-left ellipsis (which shows the end of long paths) from reordering them.
      path.textContent = `\u2066${meta.path || ""}\u2069`;
      path.title = meta.path || "";
      renderTaken(card, meta);
      const label = card.querySelector(".label-chip");
      if (meta.label) {
        label.hidden = false;
        label.textContent = meta.label;
        label.title = `Only show label "${meta.label}"`;
        label.addEventListener("click", () => filterByLabel(meta.label));
      }
    } else {
      const text = result.text || meta.text || "";
      card.querySelector(".text").textContent = text;
      name = text.length > 40 ? `${text.slice(0, 40)}…` : text || result.id;
      const byline = [meta.author, meta.title, meta.year].filter((v) => v !== undefined && v !== null && v !== "").join(", ");
      card.querySelector(".byline").textContent = byline;
      renderMeta(card.querySelector(".meta"), meta);
    }
    const moreLike = card.querySelector(".more-like");
    moreLike.setAttribute("aria-label", `More like ${name}`);
    moreLike.addEventListener("click", () => {
      startSearch({ kind: "id", id: result.id, namespace: result.namespace, name, isImage });
      els.results.focus({ preventScroll: true });
      window.scrollTo({ top: 0 });
    });
    return card;
  }

  function renderTaken(card, meta) {
    const taken = card.querySelector(".taken");
    if (typeof meta.taken_at === "string" && meta.taken_at) {
      taken.hidden = false;
      card.dataset.takenAt = meta.taken_at;
      const time = taken.querySelector(".taken-at");
      time.dateTime = meta.taken_at;
      time.textContent = formatTakenAt(meta.taken_at);
      time.title = meta.taken_at_source === "mtime" ? "Date of the file (no date in its EXIF)" : "Date taken";
    }
    if (typeof meta.lat === "number" && typeof meta.lon === "number") {
      taken.hidden = false;
      const place = taken.querySelector(".place");
      place.hidden = false;
      place.textContent = formatPlace(meta.lat, meta.lon);
      place.title = "Where it was taken (GPS)";
    }
  }

  const HIDDEN_META = new Set(["type", "text", "author", "title", "year", "namespace", "sha256", "abs_path",
    "mtime", "bytes", "path", "filename", "taken_ts", "taken_at_source", "orientation"]);

  function renderMeta(list, meta) {
    const entries = Object.entries(meta).filter(([key, value]) =>
      !HIDDEN_META.has(key) && value !== null && value !== "" && typeof value !== "object").slice(0, 6);
    for (const [key, value] of entries) {
      const row = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = key;
      dd.textContent = String(value);
      row.append(dt, dd);
      list.append(row);
    }
    if (meta.tags && Array.isArray(meta.tags)) {
      const row = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = "tags";
      dd.textContent = meta.tags.join(", ");
      row.append(dt, dd);
      list.append(row);
    }
  }

  function updateLabelOptions(results) {
    for (const result of results) {
      const label = result.metadata && result.metadata.label;
      if (label && !state.labels.has(label)) {
        state.labels.add(label);
        els.labelOptions.append(new Option(label));
      }
    }
  }

  function filterByLabel(label) {
    els.labelFilter.value = label;
    onFiltersChanged();
  }

  async function openOriginal(event, href) {
    if (!apiKey()) return; // a plain link works
    event.preventDefault();
    const win = window.open("", "_blank");
    try {
      const url = await fetchBlobUrl(href);
      if (win) win.location = url;
    } catch (error) {
      if (win) win.close();
      showError(new ApiError({ code: "image_unavailable", message: "The original image could not be loaded.", hint: String(error.message) }));
    }
  }

  // -- image input: picker, drop, paste --------------------------------------

  function searchWithFile(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      showError(new ApiError({ code: "not_an_image", message: `${file.name} is not an image.`, hint: "Drop a JPEG, PNG, WebP or GIF file." }));
      return;
    }
    startSearch({ kind: "file", file });
  }

  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  let dragDepth = 0;

  function setDropOverlay(visible) {
    els.dropOverlay.hidden = !visible;
  }

  function installDropTarget() {
    window.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      dragDepth += 1;
      setDropOverlay(true);
    });
    window.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    window.addEventListener("dragleave", () => {
      dragDepth = Math.max(0, dragDepth - 1);
      if (dragDepth === 0) setDropOverlay(false);
    });
    window.addEventListener("drop", (event) => {
      dragDepth = 0;
      setDropOverlay(false);
      const files = event.dataTransfer ? [...event.dataTransfer.files] : [];
      if (!files.length) return;
      event.preventDefault();
      if (els.query.disabled) return; // nothing to search
      searchWithFile(files.find((f) => f.type.startsWith("image/")) || files[0]);
    });
    window.addEventListener("paste", (event) => {
      const files = event.clipboardData ? [...event.clipboardData.files] : [];
      const image = files.find((f) => f.type.startsWith("image/"));
      if (image && !els.query.disabled) {
        event.preventDefault();
        searchWithFile(image);
      }
    });
  }

  // -- API key -----------------------------------------------------------------

  function openKeyDialog() {
    els.keyInput.value = apiKey();
    els.keyForget.hidden = !apiKey();
    if (!els.keyDialog.open) els.keyDialog.showModal();
    els.keyInput.focus();
  }

  function saveKey(key) {
    try {
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch {
      // Storage can be disabled; the key then lasts until the page is closed.
    }
    for (const url of blobUrls.values()) URL.revokeObjectURL(url);
    blobUrls.clear();
  }

  async function retryAfterKey() {
    clearError();
    const retry = state.retry;
    state.retry = null;
    const loaded = await loadNamespaces();
    if (loaded && retry && retry !== loadNamespaces) await retry();
    else if (loaded && state.query) await runSearch();
  }

  // -- wiring ------------------------------------------------------------------

  function onFiltersChanged() {
    rememberInUrl();
    if (state.query) {
      state.limit = PAGE_SIZE;
      runSearch();
    }
  }

  function wire() {
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = els.query.value.trim();
      if (!text) {
        els.query.focus();
        return;
      }
      startSearch({ kind: "text", text });
    });
    els.pickImage.addEventListener("click", () => els.imageInput.click());
    els.imageInput.addEventListener("change", () => {
      const file = els.imageInput.files && els.imageInput.files[0];
      els.imageInput.value = ""; // picking the same file again should search again
      searchWithFile(file);
    });
    els.clearImage.addEventListener("click", () => {
      const text = els.query.value.trim();
      if (text) startSearch({ kind: "text", text });
      else {
        state.query = null;
        showQueryImage();
        els.results.replaceChildren();
        els.more.hidden = true;
        setStatus("");
      }
      els.query.focus();
    });
    els.namespace.addEventListener("change", onFiltersChanged);
    els.typeFilter.addEventListener("change", onFiltersChanged);
    els.mode.addEventListener("change", onFiltersChanged);
    els.showClosest.addEventListener("click", () => {
      state.showClosest = true;
      if (state.lastResponse) renderResults(state.lastResponse, false);
    });
    els.labelFilter.addEventListener("change", onFiltersChanged);
    els.dateFrom.addEventListener("change", onFiltersChanged);
    els.dateTo.addEventListener("change", onFiltersChanged);
    els.labelFilter.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        onFiltersChanged();
      }
    });
    els.more.addEventListener("click", () => {
      state.limit = Math.min(MAX_LIMIT, state.limit + PAGE_SIZE);
      runSearch({ append: true });
    });
    els.errorDismiss.addEventListener("click", clearError);
    els.errorKey.addEventListener("click", openKeyDialog);
    els.apiKeyButton.addEventListener("click", openKeyDialog);
    els.recheck.addEventListener("click", async () => {
      if (await loadNamespaces()) {
        if (els.empty.hidden) els.query.focus();
        else setStatus("Still empty.");
      }
    });
    els.keyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      saveKey(els.keyInput.value.trim());
      els.keyDialog.close();
      els.apiKeyButton.hidden = false;
      retryAfterKey();
    });
    els.keyCancel.addEventListener("click", () => els.keyDialog.close());
    els.keyForget.addEventListener("click", () => {
      saveKey("");
      els.keyDialog.close();
      retryAfterKey();
    });
    document.addEventListener("keydown", (event) => {
      // "/" jumps to the search box, as on many search pages.
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
      if (event.key === "/" && !typing && !els.keyDialog.open) {
        event.preventDefault();
        els.query.focus();
        els.query.select();
      }
    });
    els.queryImagePreview.addEventListener("error", () => markBroken(els.queryImagePreview));
    installDropTarget();
  }

  async function start() {
    wire();
    if (apiKey()) els.apiKeyButton.hidden = false;
    const params = new URLSearchParams(location.search);
    els.query.value = params.get("q") || "";
    els.labelFilter.value = params.get("label") || "";
    const isDate = (value) => /^\d{4}-\d{2}-\d{2}$/.test(value || "");
    if (isDate(params.get("from"))) els.dateFrom.value = params.get("from");
    if (isDate(params.get("to"))) els.dateTo.value = params.get("to");
    if (["image", "text"].includes(params.get("type"))) els.typeFilter.value = params.get("type");
    if (["vector", "keyword", "hybrid"].includes(params.get("mode"))) els.mode.value = params.get("mode");
    const loaded = await loadNamespaces();
    if (loaded && els.empty.hidden && els.query.value.trim()) {
      startSearch({ kind: "text", text: els.query.value.trim() });
    }
    document.body.dataset.ready = "true";
  }

  // What the duplicates view (duplicates.js) uses of this page.
  window.sameSame = {
    api,
    showError,
    clearError,
    setImageSource,
    markBroken,
    thumbnailUrl,
    imageUrl,
    openOriginal,
    chosenNamespace: () => els.namespace.value || (state.namespaces.length === 1 ? state.namespaces[0].name : null),
    searchArea: [els.results, els.more, els.welcome, els.noGoodMatch, els.status, els.queryImage],
  };

  start();
})();
