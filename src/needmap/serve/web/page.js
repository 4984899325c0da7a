// The web page of needmap's service: the models, one customer's score and reasons, a campaign's target list.
// Plain JavaScript, no library: every call goes to the service that served this page (the API under /v1 and
// the page's own /ui/models/NAME/card), with the API key typed at the top as "Authorization: Bearer KEY".
// Text from the service or from a file is only ever put in the page as text (textContent), never as HTML.
"use strict";

(() => {
  const KEY_STORE = "needmap.apiKey";
  const BATCH = 500; // rows a predict request
  const LIST_SHOWN = 100; // rows of the target list shown (the download holds them all)
  const ROOT = new URL("../", window.location.href); // the page is /ui/: the service's root is one up
  // The SVG namespace, read from an <svg> the HTML parser made: the page holds no web address at all.
  const SVG_NS = (() => {
    const holder = document.createElement("div");
    holder.innerHTML = "<svg></svg>";
    return holder.firstChild.namespaceURI;
  })();
  const PALETTE = ["#1f5fbf", "#d9730d", "#2e8b57", "#8e44ad", "#c0392b", "#6b7b8c", "#b8860b"];
  const KINDS = { table: "model of a table", uplift: "uplift model", recommender: "recommender" };

  const state = { models: [], cards: new Map(), described: new Map(), csv: null, list: null };
  const $ = (id) => document.getElementById(id);

  // -- small helpers ---------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatNumber(value, digits = 4) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    if (!Number.isFinite(value)) return "–";
    return value.toLocaleString(undefined, { maximumFractionDigits: Math.abs(value) >= 1000 ? 2 : digits });
  }

  function count(n, word) {
    return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
  }

  // -- messages --------------------------------------------------------------------------------------------
  function showError(text) {
    const box = $("messages");
    box.replaceChildren(el("p", { text }));
    box.classList.add("shown");
  }

  function clearError() {
    const box = $("messages");
    box.replaceChildren();
    box.classList.remove("shown");
  }

  function say(text) {
    $("status").textContent = text;
  }

  function failed(err) {
    const text = err && err.message ? err.message : String(err);
    showError(text);
    say("");
  }

  window.addEventListener("error", (event) => showError(`The page failed: ${event.message}`));
  window.addEventListener("unhandledrejection", (event) => failed(event.reason));

  // -- the API ---------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status, detail) {
      super(message);
      this.status = status;
      this.detail = detail || {};
    }
  }

  async function api(path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const options = { method: body === undefined ? "GET" : "POST", headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(new URL(path, ROOT), options);
    } catch (err) {
      throw new ApiError(`The service did not answer (${err.message}): is it still running?`, 0);
    }
    const text = await response.text();
    let answer = null;
    try {
      answer = text ? JSON.parse(text) : null;
    } catch (err) {
      answer = null;
    }
    if (!response.ok) {
      const error = answer && answer.error;
      let message = typeof error === "string" ? error : error && error.message;
      message = message || `The service answered ${response.status} ${response.statusText}.`;
      if (response.status === 401) message = `The service asks for an API key: enter it above and press “Use key”. (${message})`;
      throw new ApiError(message, response.status, typeof error === "object" ? error : {});
    }
    if (answer === null) throw new ApiError(`The service's answer to ${path} is not JSON.`, response.status);
    return answer;
  }

  const modelPath = (name, route) => `v1/models/${encodeURIComponent(name)}${route ? `/${route}` : ""}`;

  // One call per model and document, shared by whoever asks meanwhile (a failed one is asked again next time).
  function cached(map, name, load) {
    if (!map.has(name)) {
      const answer = load();
      map.set(name, answer);
      answer.catch(() => map.delete(name));
    }
    return map.get(name);
  }

  const described = (name) => cached(state.described, name, () => api(modelPath(name)));
  const cardOf = (name) => cached(state.cards, name, () => api(`ui/models/${encodeURIComponent(name)}/card`));

  // -- tabs ------------------------------------------------------------------------------------------------
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));

  function selectTab(tab, focus) {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    window.history.replaceState(null, "", `#${tab.id.slice(4)}`);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      selectTab(tabs[(next + tabs.length) % tabs.length], true);
    });
  }

  // -- the card: minimal Markdown (headings, lists, tables, paragraphs, `code`, **bold**) as elements ------
  function inline(text) {
    const parts = [];
    for (const piece of text.split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
      if (!piece) continue;
      if (piece.startsWith("`") && piece.endsWith("`") && piece.length > 1) parts.push(el("code", { text: piece.slice(1, -1) }));
      else if (piece.startsWith("**") && piece.endsWith("**") && piece.length > 3) parts.push(el("strong", { text: piece.slice(2, -2) }));
      else parts.push(document.createTextNode(piece));
    }
    return parts;
  }

  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  }

  function markdown(text) {
    const out = el("div", { class: "markdown" });
    const lines = text.split(/\r?\n/);
    let paragraph = [];
    let list = null;
    const flush = () => {
      if (paragraph.length) out.append(el("p", {}, inline(paragraph.join(" "))));
      paragraph = [];
      list = null;
    };
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i];
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      const item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        out.append(el(`h${Math.min(6, heading[1].length + 3)}`, {}, inline(heading[2])));
      } else if (item) {
        if (paragraph.length) flush();
        if (!list) {
          list = el("ul");
          out.append(list);
        }
        list.append(el("li", {}, inline(item[1])));
      } else if (/^\s*\|/.test(line)) {
        flush();
        const rows = [];
        while (i < lines.length && /^\s*\|/.test(lines[i])) {
          rows.push(lines[i]);
          i += 1;
        }
        i -= 1; // the loop's own step comes next
        const body = rows.filter((row, n) => !(n === 1 && /^[\s|:-]+$/.test(row)));
        const table = el("table", { class: "card-table" });
        table.append(el("thead", {}, el("tr", {}, cells(body[0]).map((c) => el("th", { scope: "col" }, inline(c))))));
        table.append(el("tbody", {}, body.slice(1).map((row) => el("tr", {}, cells(row).map((c) => el("td", {}, inline(c)))))));
        out.append(el("div", { class: "scroll" }, table));
      } else if (line.trim() === "") {
        flush();
      } else {
        list = null;
        paragraph.push(line.trim());
      }
    }
    flush();
    return out;
  }

  // -- charts: line charts as inline SVG, as the HTML report draws them -------------------------------------
  function niceTicks(low, high, wanted = 5) {
    if (!Number.isFinite(low) || !Number.isFinite(high)) return [0, 1];
    if (high <= low) {
      const pad = Math.abs(low) * 0.1 || 1;
      low -= pad;
      high += pad;
    }
    const raw = (high - low) / wanted;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const start = Math.floor(low / step + 1e-9) * step;
    const stop = Math.ceil(high / step - 1e-9) * step;
    const ticks = [];
    for (let n = 0; n <= Math.round((stop - start) / step); n += 1) ticks.push(+(start + n * step).toFixed(12));
    return ticks;
  }

  function tickText(value, format) {
    return format === "%" ? `${Math.round(value * 100)}%` : formatNumber(value, 2);
  }

  let chartCount = 0;

  function lineChart(spec) {
    const W = 440;
    const H = 270;
    const left = 58;
    const top = 12;
    const plotW = W - left - 16;
    const plotH = H - top - 50;
    const lines = spec.series.map((s) => s.x.map((x, i) => [x, s.y[i]]).filter(([x, y]) => x !== null && y !== null && Number.isFinite(x) && Number.isFinite(y)));
    const xs = lines.flat().map(([x]) => x);
    const ys = lines.flat().map(([, y]) => y).concat(spec.hline === null || spec.hline === undefined ? [] : [spec.hline]);
    const xTicks = niceTicks(...(spec.x_range || [Math.min(...xs), Math.max(...xs)]));
    const yTicks = niceTicks(...(spec.y_range || [Math.min(...ys), Math.max(...ys)]));
    const [x0, x1] = spec.x_range || [xTicks[0], xTicks[xTicks.length - 1]];
    const [y0, y1] = spec.y_range || [yTicks[0], yTicks[yTicks.length - 1]];
    const px = (x) => left + ((x - x0) / (x1 - x0)) * plotW;
    const py = (y) => top + plotH - ((y - y0) / (y1 - y0)) * plotH;
    const drawn = lines.filter((l) => l.length).length;
    const height = H + 18 * drawn + 4;
    chartCount += 1;
    const titleId = `chart-title-${chartCount}`;
    const root = svg("svg", { class: "chart", "data-chart": spec.id, role: "img", viewBox: `0 0 ${W} ${height}`, "aria-labelledby": titleId });
    root.append(svg("title", { id: titleId }, spec.title));
    const axes = svg("g", { class: "axes" });
    for (const t of yTicks.filter((t) => t >= y0 - 1e-9 && t <= y1 + 1e-9)) {
      axes.append(svg("line", { class: "grid", x1: left, x2: left + plotW, y1: py(t).toFixed(1), y2: py(t).toFixed(1) }));
      axes.append(svg("text", { class: "tick", x: left - 6, y: (py(t) + 4).toFixed(1), "text-anchor": "end" }, tickText(t, spec.y_format)));
    }
    for (const t of xTicks.filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9)) {
      axes.append(svg("line", { class: "grid", x1: px(t).toFixed(1), x2: px(t).toFixed(1), y1: top, y2: top + plotH }));
      axes.append(svg("text", { class: "tick", x: px(t).toFixed(1), y: top + plotH + 15, "text-anchor": "middle" }, tickText(t, spec.x_format)));
    }
    axes.append(svg("path", { class: "axis", d: `M${left},${top} V${top + plotH} H${left + plotW}`, fill: "none" }));
    axes.append(svg("text", { class: "axis-title", x: left + plotW / 2, y: top + plotH + 34, "text-anchor": "middle" }, spec.x_label));
    const cy = top + plotH / 2;
    axes.append(svg("text", { class: "axis-title", x: 13, y: cy, "text-anchor": "middle", transform: `rotate(-90 13 ${cy})` }, spec.y_label));
    root.append(axes);
    const guides = svg("g", { class: "guides" });
    if (spec.diagonal) guides.append(svg("path", { class: "guide", d: `M${px(x0)},${py(y0)} L${px(x1)},${py(y1)}`, fill: "none" }));
    if (spec.hline !== null && spec.hline !== undefined) guides.append(svg("path", { class: "guide", d: `M${left},${py(spec.hline)} H${left + plotW}`, fill: "none" }));
    root.append(guides);
    const series = svg("g", { class: "series" });
    const legend = svg("g", { class: "legend" });
    let row = 0;
    spec.series.forEach((s, i) => {
      const points = lines[i];
      if (!points.length) return;
      const color = PALETTE[i % PALETTE.length];
      const d = `M${points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" L")}`;
      const path = svg("path", { class: "line", "data-series": s.name, d, stroke: color, "stroke-width": 2.2, fill: "none", "stroke-linejoin": "round" });
      if (s.dashed) path.setAttribute("stroke-dasharray", "6 4");
      path.append(svg("title", {}, s.name));
      series.append(path);
      if (s.points || points.length === 1) {
        for (const [x, y] of points) {
          const dot = svg("circle", { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 3.5, fill: color });
          dot.append(svg("title", {}, `${s.name}: (${formatNumber(x)}, ${formatNumber(y)})`));
          series.append(dot);
        }
      }
      const ly = H + 18 * row;
      const key = svg("path", { d: `M${left},${ly} h18`, stroke: color, "stroke-width": 2.5, fill: "none" });
      if (s.dashed) key.setAttribute("stroke-dasharray", "5 3");
      legend.append(key, svg("text", { x: left + 24, y: ly + 4 }, s.name));
      row += 1;
    });
    root.append(series, legend);
    return root;
  }

  // -- page 1: the models ----------------------------------------------------------------------------------
  function modelArticle(model) {
    const facts = [KINDS[model.kind] || model.kind];
    if (model.task) facts.push(model.task);
    if (model.architecture || model.learner || model.algorithm) facts.push(model.architecture || model.learner || model.algorithm);
    facts.push(`version ${model.version}`, `loaded ${model.loaded_at}`);
    const article = el("article", { class: "model", id: `model-${model.name}`, "aria-labelledby": `model-${model.name}-name` });
    article.append(
      el("header", { class: "model-head" },
        el("h3", { id: `model-${model.name}-name`, text: model.name }),
        el("p", { class: "facts", text: facts.join(" · ") }),
        el("p", { class: "facts", text: `Answers: ${model.routes.join(", ")}` })),
      el("div", { class: "model-body", "data-for": model.name }, el("p", { class: "note", text: "Loading its card…" })),
    );
    return article;
  }

  function fillArticle(article, model, card) {
    const body = article.querySelector(".model-body");
    body.replaceChildren();
    const metrics = card.headline.metrics;
    if (metrics.length) {
      body.append(el("h4", { text: `Headline metrics (on ${card.headline.rows})` }));
      body.append(el("dl", { class: "metrics" }, metrics.map((m) => el("div", { class: "metric", title: m.meaning || null }, el("dt", { text: m.name }), el("dd", { text: m.text })))));
    } else {
      body.append(el("p", { class: "note", text: "The model's directory holds no headline metrics." }));
    }
    if (card.verdict) body.append(el("p", { class: "verdict", text: card.verdict }));
    if (card.charts.length) {
      const charts = el("div", { class: "charts" });
      for (const spec of card.charts) {
        charts.append(el("figure", { class: "chart-box" }, lineChart(spec), el("figcaption", {}, el("strong", { text: spec.title }), ` ${spec.text}`)));
      }
      body.append(charts);
    } else {
      const why = model.kind === "table" ? "the model's directory holds no evaluation.json (a model trained by needmap train has one)" : "no curves are kept for this kind of model";
      body.append(el("p", { class: "note", text: `No charts: ${why}.` }));
    }
    const details = el("details", { class: "card" }, el("summary", { text: "Model card" }));
    details.append(card.card ? markdown(card.card) : el("p", { class: "note", text: "The model's directory holds no card.md." }));
    body.append(details);
  }

  async function loadModels() {
    clearError();
    state.cards.clear();
    state.described.clear();
    const holder = $("models");
    holder.setAttribute("aria-busy", "true");
    say("Loading the models…");
    try {
      const listed = await api("v1/models");
      state.models = listed.models;
      holder.replaceChildren(...state.models.map(modelArticle));
      if (!state.models.length) holder.append(el("p", { class: "note", text: "The service serves no model." }));
      fillModelSelects();
      await Promise.all(state.models.map(async (model) => {
        const card = await cardOf(model.name);
        fillArticle($(`model-${model.name}`), model, card);
      }));
      say(`${count(state.models.length, "model")} loaded.`);
    } catch (err) {
      holder.replaceChildren(el("p", { class: "note", text: "The models could not be loaded: see the message above." }));
      failed(err);
    } finally {
      holder.setAttribute("aria-busy", "false");
    }
  }

  function fillModelSelects() {
    const scored = state.models.filter((m) => m.routes.includes("predict"));
    for (const [id, models, route] of [["lookup-model", scored.filter((m) => m.routes.includes("explain")), "explain"], ["campaign-model", scored, "predict"]]) {
      const select = $(id);
      const before = select.value;
      select.replaceChildren(...models.map((m) => el("option", { value: m.name, text: `${m.name} (${KINDS[m.kind] || m.kind})` })));
      if (!models.length) select.append(el("option", { value: "", text: `no model answers ${route}` }));
      if (models.some((m) => m.name === before)) select.value = before;
    }
    buildLookupForm().catch(failed);
    campaignModelChanged().catch(failed);
  }

  // -- page 2: customer lookup -----------------------------------------------------------------------------
  function inputControl(input, value) {
    const id = `lookup-input-${input.name}`;
    const hint = `${input.role === "id" ? "id, copied to the answer" : input.role}, ${input.type}`;
    let control;
    if (input.type === "boolean") {
      control = el("select", { id, name: input.name },
        el("option", { value: "", text: "(missing)" }), el("option", { value: "true", text: "true" }), el("option", { value: "false", text: "false" }));
      control.value = value === true ? "true" : value === false ? "false" : "";
    } else {
      const numeric = input.type === "integer" || input.type === "number";
      control = el("input", { id, name: input.name, type: numeric ? "number" : "text", step: input.type === "integer" ? "1" : numeric ? "any" : null, inputmode: input.type === "integer" ? "numeric" : numeric ? "decimal" : null, spellcheck: "false" });
      control.value = value === null || value === undefined ? "" : Array.isArray(value) ? value.join("|") : String(value);
    }
    control.dataset.type = input.type;
    const described = `${id}-hint`;
    control.setAttribute("aria-describedby", described);
    return el("div", { class: "field" }, el("label", { for: id, text: input.name }), control, el("span", { id: described, class: "hint", text: input.type === "array" ? `${hint}: values separated by |` : hint }));
  }

  async function buildLookupForm(example) {
    const name = $("lookup-model").value;
    const box = $("lookup-inputs");
    $("lookup-result").replaceChildren();
    if (!name) {
      box.replaceChildren(el("p", { class: "note", text: "No model to look a customer up with." }));
      return;
    }
    const [model, card] = await Promise.all([described(name), cardOf(name)]);
    const values = example === undefined ? card.example || {} : example;
    box.replaceChildren(...model.inputs.map((input) => inputControl(input, values[input.name])));
    customerField(model);
  }

  // The "Customer id" field: enabled for a model served with online features (its features read from the
  // feature store by the service), disabled with the page's own note for any other.
  function customerField(model) {
    const field = $("lookup-id");
    const note = $("lookup-id-note");
    if (note.dataset.offline === undefined) note.dataset.offline = note.textContent;
    const online = model && model.online_features;
    if (!online) {
      field.disabled = true;
      field.value = "";
      field.removeAttribute("placeholder");
      note.textContent = note.dataset.offline;
      return;
    }
    field.disabled = false;
    field.setAttribute("placeholder", online.customer);
    const where = `${online.store} (features version ${online.version}${online.cutoff ? `, as of ${online.cutoff}` : ""})`;
    note.textContent = online.available
      ? `Type a customer's ${online.customer} to score the customer with the features in ${where}; leave it empty to score the columns below.`
      : `The customer's features are to be read from ${where}, which does not hold them now: fill in the columns below, or try an id to see why.`;
  }

  // The row of a customer looked up by id: the customer column alone (a whole number where the column is one).
  function customerRow(model, text) {
    const online = model.online_features;
    const input = model.inputs.find((i) => i.name === online.customer);
    const whole = input && input.type === "integer" && /^-?\d+$/.test(text) && Number.isSafeInteger(Number(text));
    return { [online.customer]: whole ? Number(text) : text };
  }

  function lookupRow(model) {
    const row = {};
    for (const input of model.inputs) {
      const control = $(`lookup-input-${input.name}`);
      const text = control.value.trim();
      if (control.validity && control.validity.badInput) throw new Error(`The field ${input.name} holds no number.`);
      if (text === "") row[input.name] = null;
      else if (input.type === "integer" || input.type === "number") row[input.name] = Number(text);
      else if (input.type === "boolean") row[input.name] = text === "true";
      else if (input.type === "array") row[input.name] = text.split("|").map((v) => v.trim()).filter(Boolean);
      else row[input.name] = control.value;
    }
    return row;
  }

  function reasonList(title, rows) {
    const section = el("section", { class: "reasons" }, el("h4", { text: title }));
    section.append(rows.length ? el("ul", {}, rows.map((r) => el("li", { text: r.reason || `${r.column}: ${r.effect}` }))) : el("p", { class: "note", text: "None among the columns shown." }));
    return section;
  }

  async function lookup(event) {
    event.preventDefault();
    clearError();
    const name = $("lookup-model").value;
    if (!name) return;
    const button = $("lookup-submit");
    const result = $("lookup-result");
    button.disabled = true;
    result.setAttribute("aria-busy", "true");
    say(`Scoring with ${name}…`);
    try {
      const model = await described(name);
      const id = $("lookup-id").disabled ? "" : $("lookup-id").value.trim();
      const row = id && model.online_features ? customerRow(model, id) : lookupRow(model);
      const top = Math.max(1, Math.min(5, model.inputs.filter((i) => i.role !== "id").length));
      const [scored, why] = await Promise.all([api(modelPath(name, "predict"), { rows: [row] }), api(modelPath(name, "explain"), { rows: [row], top })]);
      const answer = scored.rows[0] || {};
      const outputs = model.outputs.map((o) => o.name).filter((o) => o in answer);
      const figures = el("dl", { class: "metrics score" }, outputs.map((o) => el("div", { class: "metric" }, el("dt", { text: o }), el("dd", { text: formatNumber(answer[o]) }))));
      const offer = why.rows.find((r) => r.offer);
      const what = offer ? `the effect of ${offer.offer}` : "the score";
      result.replaceChildren(
        el("h3", { text: `The customer's ${model.kind === "uplift" ? "predicted effects" : "score"} (${name}, version ${scored.version})` }),
        id ? el("p", { class: "note", text: `Customer ${id}: the features read from ${model.online_features.store}.` }) : null,
        figures,
        ...scored.notes.map((note) => el("p", { class: "note", text: note })),
        el("div", { class: "reason-lists" },
          reasonList(`What raises ${what}`, why.rows.filter((r) => r.effect === "raises")),
          reasonList(`What lowers ${what}`, why.rows.filter((r) => r.effect === "lowers"))),
      );
      say("Scored and explained.");
    } catch (err) {
      result.replaceChildren();
      failed(err);
    } finally {
      button.disabled = false;
      result.setAttribute("aria-busy", "false");
    }
  }

  // -- page 3: campaign ------------------------------------------------------------------------------------
  function detectDelimiter(text) {
    const counts = { ",": 0, ";": 0, "\t": 0 };
    let quoted = false;
    for (const c of text.slice(0, 65536)) {
      if (c === '"') quoted = !quoted;
      else if (!quoted && (c === "\n" || c === "\r")) break;
      else if (!quoted && c in counts) counts[c] += 1;
    }
    const best = Object.entries(counts).sort((a, b) => b[1] - a[1])[0];
    return best[1] > 0 ? best[0] : ",";
  }

  // Rows of fields: fields quoted with "..." may hold the separator, line breaks and "" (one quote).
  function parseCsv(text, delimiter) {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    let started = false; // the field began with a quote
    for (let i = 0; i < text.length; i += 1) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"' && field === "" && !started) {
        quoted = true;
        started = true;
      } else if (c === delimiter) {
        row.push(field);
        field = "";
        started = false;
      } else if (c === "\n" || c === "\r") {
        row.push(field);
        rows.push(row);
        row = [];
        field = "";
        started = false;
        if (c === "\r" && text[i + 1] === "\n") i += 1;
      } else field += c;
    }
    if (quoted) throw new Error("The CSV file ends inside a quoted field: a closing quote is missing.");
    if (field !== "" || row.length) {
      row.push(field);
      rows.push(row);
    }
    return rows.filter((r) => !(r.length === 1 && r[0].trim() === ""));
  }

  function cellValue(text, input, delimiter, missing) {
    if (text === undefined) return null;
    const t = text.trim();
    if (t === "") return null;
    if (input.role === "id" || input.type === "string") return text;
    if (missing.has(t)) return null;
    if (input.type === "integer" || input.type === "number") {
      const plain = delimiter === ";" && /^[-+]?\d*,\d+$/.test(t) ? t.replace(",", ".") : t;
      const n = Number(plain);
      return Number.isFinite(n) ? n : text; // not a number: the service names the row and the field
    }
    if (input.type === "boolean") {
      const l = t.toLowerCase();
      if (["true", "1", "yes", "y", "t"].includes(l)) return true;
      if (["false", "0", "no", "n", "f"].includes(l)) return false;
      return text;
    }
    if (input.type === "array") return t.split("|").map((v) => v.trim()).filter(Boolean);
    return text;
  }

  async function readFile() {
    clearError();
    const file = $("campaign-file").files[0];
    state.csv = null;
    state.list = null;
    showList(false);
    if (!file) return;
    try {
      const text = await file.text();
      const delimiter = detectDelimiter(text);
      const rows = parseCsv(text, delimiter);
      if (rows.length < 2) throw new Error(`${file.name} holds no customer: expected a header line and at least one row.`);
      const header = rows[0].map((h) => h.trim());
      state.csv = { name: file.name, delimiter, header, rows: rows.slice(1) };
      await describeFile();
    } catch (err) {
      $("campaign-file-info").textContent = "The file could not be read.";
      failed(err);
    }
  }

  async function describeFile() {
    const csv = state.csv;
    const name = $("campaign-model").value;
    if (!csv) return;
    const shown = { ",": "commas", ";": "semicolons", "\t": "tabs" }[csv.delimiter];
    let text = `${csv.name}: ${count(csv.rows.length, "customer")}, ${count(csv.header.length, "column")} (separated by ${shown}).`;
    if (name) {
      const model = await described(name);
      const lacking = model.inputs.filter((i) => i.required && !csv.header.includes(i.name)).map((i) => i.name);
      if (lacking.length) text += ` Not in the file, so sent as missing: ${lacking.join(", ")}.`;
      const ids = model.inputs.filter((i) => i.role === "id" && csv.header.includes(i.name)).map((i) => i.name);
      text += ids.length ? ` Customers are named by ${ids.join(", ")}.` : " The file has no id column of the model: customers are named by their row in the file.";
    }
    $("campaign-file-info").textContent = text;
  }

  async function campaignModelChanged() {
    const name = $("campaign-model").value;
    const rank = $("campaign-rank");
    rank.replaceChildren();
    state.list = null;
    showList(false);
    $("campaign-summary").replaceChildren();
    if (!name) return;
    const [model, card] = await Promise.all([described(name), cardOf(name)]);
    const uplift = model.kind === "uplift";
    $("campaign-rank-field").hidden = uplift;
    $("campaign-value-field").hidden = !uplift;
    for (const o of model.outputs.filter((o) => o.type === "number")) rank.append(el("option", { value: o.name, text: o.name }));
    if (card.rank_by && !uplift) rank.value = card.rank_by;
    updateCount();
    await describeFile();
  }

  function contacts() {
    const mode = document.querySelector('input[name="mode"]:checked').value;
    if (mode === "top") {
      const n = Number($("campaign-n").value);
      if (!Number.isInteger(n) || n < 1) throw new Error("N, the customers to contact, must be a whole number of at least 1.");
      return { n, text: `the top ${n.toLocaleString()}` };
    }
    const budget = Number($("campaign-budget").value);
    const cost = Number($("campaign-cost").value);
    if (!(cost > 0) || !(budget >= 0) || $("campaign-budget").value === "") throw new Error("A budget needs a cost per contact above 0 and a budget of at least 0.");
    const n = Math.floor(budget / cost + 1e-9);
    if (n < 1) throw new Error(`A budget of ${formatNumber(budget)} pays for no contact at ${formatNumber(cost)} each.`);
    return { n, text: `${n.toLocaleString()} contacts (a budget of ${formatNumber(budget)} at ${formatNumber(cost)} a contact)` };
  }

  function updateCount() {
    const budget = document.querySelector('input[name="mode"]:checked').value === "budget";
    $("campaign-n").disabled = budget;
    $("campaign-budget").disabled = !budget;
    try {
      $("campaign-count").textContent = `The list will hold ${contacts().text}.`;
    } catch (err) {
      $("campaign-count").textContent = err.message;
    }
  }

  function rowProblem(err, offset, what) {
    if (err instanceof ApiError && Number.isInteger(err.detail.row)) {
      const row = offset + err.detail.row + 1;
      const message = err.message.replace(/^row \d+, /, "").replace(/^row \d+ /, "the row ");
      return new ApiError(`${what}: customer ${row.toLocaleString()} of the file (line ${(row + 1).toLocaleString()}): ${message}`, err.status, err.detail);
    }
    return err;
  }

  async function buildList(event) {
    event.preventDefault();
    clearError();
    const name = $("campaign-model").value;
    const csv = state.csv;
    const summary = $("campaign-summary");
    const progress = $("campaign-progress");
    const button = $("campaign-submit");
    try {
      if (!name) throw new Error("No model to score with.");
      if (!csv) throw new Error("Choose a CSV file of customers first.");
      const wanted = contacts();
      const model = await described(name);
      const missing = new Set((await cardOf(name)).missing);
      const positions = new Map(csv.header.map((h, i) => [h, i]));
      const rows = csv.rows.map((cells) => {
        const row = {};
        for (const input of model.inputs) {
          if (positions.has(input.name)) row[input.name] = cellValue(cells[positions.get(input.name)], input, csv.delimiter, missing);
          else if (input.required) row[input.name] = null;
        }
        return row;
      });
      const ids = model.inputs.filter((i) => i.role === "id" && positions.has(i.name)).map((i) => i.name);
      button.disabled = true;
      progress.hidden = false;
      progress.max = rows.length;
      progress.value = 0;
      summary.setAttribute("aria-busy", "true");
      showList(false);
      const scores = [];
      for (let start = 0; start < rows.length; start += BATCH) {
        say(`Scoring customers ${(start + 1).toLocaleString()} to ${Math.min(rows.length, start + BATCH).toLocaleString()} of ${rows.length.toLocaleString()}…`);
        let answer;
        try {
          answer = await api(modelPath(name, "predict"), { rows: rows.slice(start, start + BATCH) });
        } catch (err) {
          throw rowProblem(err, start, "Scoring failed");
        }
        scores.push(...answer.rows);
        progress.value = scores.length;
      }
      const n = Math.min(wanted.n, rows.length);
      let list;
      let columns;
      const facts = [];
      if (model.kind === "uplift") {
        const value = Number($("campaign-value").value);
        const cost = Number($("campaign-cost").value) || 0;
        if (!(value > 0)) throw new Error("The value of one conversion must be above 0.");
        // the n best by predicted uplift are the n the service chooses with one cost for every offer
        const order = scores.map((s, i) => [s.best_uplift, i]).filter(([u]) => typeof u === "number").sort((a, b) => b[0] - a[0]).slice(0, n).map(([, i]) => i);
        if (!order.length) throw new Error("No customer of the file got a predicted uplift.");
        say(`Choosing ${count(order.length, "contact")} and their offers…`);
        let answer;
        try {
          answer = await api(modelPath(name, "target"), { rows: order.map((i) => rows[i]), budget: order.length, cost, value });
        } catch (err) {
          throw rowProblem(err, 0, "Choosing the contacts failed");
        }
        const named = ids.length ? ids : ["row"];
        list = answer.rows.map((r) => ({ ...r, row: ids.length ? undefined : order[r.row - 1] + 1 }));
        columns = ["rank", ...named, "offer", "predicted_uplift", "expected_gain"];
        facts.push(`Expected gain of the list: ${formatNumber(answer.expected_gain, 2)} (value ${formatNumber(value)} a conversion, cost ${formatNumber(cost)} a contact).`);
        if (answer.short) facts.push(`Only ${count(answer.eligible, "customer")} gain from a contact: the list holds fewer than asked.`);
        if (answer.note) facts.push(answer.note);
      } else {
        const by = $("campaign-rank").value;
        const order = scores.map((s, i) => [s[by], i]).filter(([v]) => typeof v === "number").sort((a, b) => b[0] - a[0]).slice(0, n);
        list = order.map(([score, i], rank) => {
          const entry = { rank: rank + 1, [by]: score };
          if (ids.length) for (const id of ids) entry[id] = scores[i][id] !== undefined ? scores[i][id] : csv.rows[i][positions.get(id)];
          else entry.row = i + 1;
          return entry;
        });
        columns = ["rank", ...(ids.length ? ids : ["row"]), by];
        const unscored = scores.length - scores.filter((s) => typeof s[by] === "number").length;
        if (unscored) facts.push(`${count(unscored, "customer")} got no ${by} and are left out.`);
      }
      state.list = { name, columns, rows: list };
      summary.replaceChildren(
        el("p", { text: `Scored ${count(rows.length, "customer")} of ${csv.name} with ${name}. Asked for ${wanted.text}; the list holds ${count(list.length, "customer")}, ${model.kind === "uplift" ? "the highest expected gain" : `the highest ${$("campaign-rank").value}`} first.` }),
        ...facts.map((f) => el("p", { class: "note", text: f })),
      );
      renderList();
      say("The target list is ready.");
    } catch (err) {
      summary.replaceChildren();
      failed(err);
    } finally {
      button.disabled = false;
      progress.hidden = true;
      summary.setAttribute("aria-busy", "false");
    }
  }

  function showList(on) {
    $("campaign-list").hidden = !on;
  }

  function renderList() {
    const list = state.list;
    const table = $("campaign-table");
    table.tHead.replaceChildren(el("tr", {}, list.columns.map((c) => el("th", { scope: "col", text: c }))));
    const shown = list.rows.slice(0, LIST_SHOWN);
    const numeric = (c) => c !== "offer" && list.rows.some((r) => typeof r[c] === "number");
    table.tBodies[0].replaceChildren(...shown.map((r) => el("tr", {}, list.columns.map((c) => el("td", { class: numeric(c) ? "num" : null, text: typeof r[c] === "number" && !Number.isInteger(r[c]) ? formatNumber(r[c]) : r[c] === undefined || r[c] === null ? "" : String(r[c]) })))));
    $("campaign-caption").textContent = `The target list of ${list.name}`;
    $("campaign-shown").textContent = list.rows.length > LIST_SHOWN ? `The first ${LIST_SHOWN} of ${list.rows.length.toLocaleString()} shown; the download holds them all.` : "";
    showList(true);
  }

  // A CSV cell: quoted where it holds a comma, a quote or a line break; text that a spreadsheet would read as a
  // formula (=, +, -, @ first) is preceded by a quote mark.
  function csvCell(value) {
    if (value === null || value === undefined) return "";
    let text = String(value);
    if (typeof value !== "number" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function download() {
    const list = state.list;
    if (!list) return;
    const lines = [list.columns.map(csvCell).join(","), ...list.rows.map((r) => list.columns.map((c) => csvCell(r[c])).join(","))];
    const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `${list.name}-target-list.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    say(`Downloaded ${list.name}-target-list.csv (${count(list.rows.length, "customer")}).`);
  }

  // -- wiring ----------------------------------------------------------------------------------------------
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    loadModels();
  });
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("key").value = "";
    say("The key is forgotten.");
  });
  $("lookup-model").addEventListener("change", () => buildLookupForm().catch(failed));
  $("lookup-example").addEventListener("click", () => buildLookupForm().catch(failed));
  $("lookup-form").addEventListener("submit", lookup);
  $("campaign-model").addEventListener("change", () => campaignModelChanged().catch(failed));
  $("campaign-file").addEventListener("change", readFile);
  for (const id of ["mode-top", "mode-budget", "campaign-n", "campaign-budget", "campaign-cost"]) $(id).addEventListener("input", updateCount);
  $("campaign-form").addEventListener("submit", buildList);
  $("campaign-download").addEventListener("click", download);

  $("key").value = sessionStorage.getItem(KEY_STORE) || "";
  const start = tabs.find((t) => `#${t.id.slice(4)}` === window.location.hash);
  if (start) selectTab(start, false);
  updateCount();
  loadModels();
})();
