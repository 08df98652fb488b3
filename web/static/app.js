// Folio in the browser: streamed answers with citation chips, the passage panel, uploads.
// Everything from the server or a manual is inserted as text (textContent), never as HTML;
// the passage panel's HTML comes from the server, which escapes it before highlighting.
"use strict";
(() => {
  const csrf = document.body.dataset.csrf || "";
  const withCsrf = (h) => Object.assign(csrf ? { "X-CSRF-Token": csrf } : {}, h || {});
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  // Join the breaks a PDF puts inside sentences (after a long line without a full stop, not
  // before a list item); headings, steps and paragraphs keep theirs. Same rule as text.reflow.
  const reflow = (t) => {
    const lines = t.split("\n");
    let out = lines[0];
    for (let i = 1; i < lines.length; i++) {
      const prev = lines[i - 1];
      const soft = prev.trim().length >= 30 && !/[.:;!?]\s*$/.test(prev) && lines[i].trim() && !/^\s*([-•*▪]|\d+[.)])\s/.test(lines[i]);
      out += (soft ? " " : "\n") + lines[i];
    }
    return out;
  };
  // The page's words: web/i18n.py embeds the part of its catalogue this script uses as JSON.
  const lang = document.documentElement.lang || "en";
  const strings = (() => {
    try {
      return JSON.parse(document.getElementById("folio-strings").textContent);
    } catch {
      return {};
    }
  })();
  const plural = new Intl.PluralRules(lang);
  const num = new Intl.NumberFormat(lang);
  const dec1 = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // t("count.pages", { n: 3 }): the text for the key, plural form chosen by n, {name} filled in.
  const t = (key, vars = {}) => {
    let s = strings[key];
    if (s && typeof s === "object") s = s[plural.select(vars.n ?? 0)] || s.other;
    if (typeof s !== "string") return key;
    return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? (typeof vars[k] === "number" ? num.format(vars[k]) : String(vars[k])) : m));
  };
  const ms = (v) => (v == null ? "–" : v >= 1000 ? t("unit.s", { v: dec1.format(v / 1000) }) : t("unit.ms", { v: Math.round(v) }));
  // A passage's or citation's place in the page's language (the API words it in English).
  const loc = (p) => {
    const label = p.page_label ?? p.label;
    if (p.page == null) return p.locator;
    if (label && label !== String(p.page)) return t("loc.page_label", { label, page: String(p.page) });
    return t("loc.page", { page: String(p.page) });
  };

  // Server-sent events over fetch: EventSource cannot POST a question and its history.
  async function* sse(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let m;
      while ((m = /\r?\n\r?\n/.exec(buf))) {
        const block = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        let event = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      const ta = el("textarea", "visually-hidden");
      ta.value = text;
      document.body.append(ta);
      ta.select();
      const ok = document.execCommand("copy");
      ta.remove();
      return ok;
    }
  }

  // --- the passage panel ---------------------------------------------------------------------
  const panel = document.getElementById("panel");
  let lastChip = null;

  function chip(p, long) {
    const b = el("button", long ? "chip source" : "chip", long ? undefined : `[${p.n}]`);
    if (long) b.append(el("span", "chip-n", `[${p.n}]`), el("span", "chip-title", p.title), el("span", "chip-loc", t("js.chip_locator", { locator: loc(p) })));
    b.type = "button";
    b.dataset.chunk = p.chunk_id;
    b.dataset.n = p.n;
    b.setAttribute("aria-label", t("js.source_label", { n: p.n, title: p.title, locator: loc(p) }));
    b.title = p.title + t("js.chip_locator", { locator: loc(p) });
    if (p.instruction_like) {
      // text addressed to an AI assistant in this passage: a possible prompt injection
      b.classList.add("flagged");
      b.title += " — " + t("js.instruction_like");
    }
    return b;
  }

  async function openPassage(button) {
    lastChip = button;
    const turn = button.closest(".turn");
    const q = turn ? turn.dataset.q : "";
    const url = `/ui/passage/${encodeURIComponent(button.dataset.chunk)}?n=${button.dataset.n}&q=${encodeURIComponent(q)}`;
    await htmx.ajax("GET", url, { target: "#panel-body", swap: "innerHTML" });
    panel.hidden = false;
    document.body.classList.add("panel-open");
    const title = document.getElementById("panel-title");
    if (title) title.focus();
  }

  function closePanel() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    if (lastChip && document.body.contains(lastChip)) lastChip.focus();
  }

  if (panel) {
    document.getElementById("panel-close").addEventListener("click", closePanel);
    document.addEventListener("keydown", (e) => e.key === "Escape" && closePanel());
    document.addEventListener("click", (e) => {
      const b = e.target.closest("button.chip[data-chunk]");
      if (b) openPassage(b);
    });
  }

  // --- asking ------------------------------------------------------------------------------------
  const form = document.getElementById("ask-form");
  if (form) initAsk(form);

  function initAsk(form) {
    const q = form.querySelector("#question");
    const err = form.querySelector("#ask-error");
    const btn = form.querySelector("#ask-button");
    const conv = document.getElementById("conversation");
    const intro = document.getElementById("intro");
    const tpl = document.getElementById("turn-template");
    const max = Number(form.dataset.max);
    const picker = initPicker(form);
    let history = [];
    let busy = false;
    let inflight = null; // AbortController of the answer being streamed

    q.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    document.getElementById("new-chat").addEventListener("click", () => {
      if (inflight) inflight.abort();
      history = [];
      conv.querySelectorAll(".turn").forEach((t) => t.remove());
      intro.hidden = false;
      closePanel();
      q.focus();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = q.value.trim();
      err.textContent = "";
      if (!text) return void (err.textContent = t("js.empty_question"));
      if (text.length > max) return void (err.textContent = t("js.too_long", { n: text.length, max }));
      const docs = picker.chosen();
      if (docs.length > picker.max) return void (err.textContent = t("js.too_many_manuals", { max: picker.max }));
      if (busy) return;
      busy = true;
      btn.disabled = true;
      intro.hidden = true;
      const turn = tpl.content.firstElementChild.cloneNode(true);
      turn.dataset.q = text;
      turn.querySelector(".q").textContent = text;
      const coll = form.querySelector("#collection").value;
      showScope(turn, coll, docs);
      conv.append(turn);
      turn.scrollIntoView({ block: "start", behavior: "smooth" });
      q.value = "";
      const controller = (inflight = new AbortController());
      try {
        const answer = await ask(text, turn, controller.signal, coll, docs);
        if (answer && !controller.signal.aborted) history.push({ role: "user", content: text }, { role: "assistant", content: answer.answer || "(passages only)" });
      } finally {
        if (inflight === controller) inflight = null;
        busy = false;
        btn.disabled = false;
      }
    });

    async function ask(text, turn, signal, coll, docs) {
      const status = turn.querySelector(".turn-status");
      const answerBox = turn.querySelector(".answer");
      status.textContent = t("js.searching");
      let res;
      try {
        res = await fetch("/api/v1/ask?stream=true", {
          method: "POST",
          headers: withCsrf({ "Content-Type": "application/json", Accept: "text/event-stream" }),
          body: JSON.stringify({
            question: text,
            history: history.slice(-12),
            collections: coll ? [coll] : null,
            doc_ids: docs.length ? docs.map((d) => d.id) : null,
          }),
          signal,
        });
      } catch {
        if (signal.aborted) return null;
        return fail(turn, t("js.unreachable"));
      }
      if (!res.ok) {
        const j = await res.json().catch(() => null);
        if (res.status === 401) location.href = "/login?next=/";
        return fail(turn, (j && j.error && j.error.message) || t("js.http_failed", { status: String(res.status) }));
      }
      let streamed = "";
      let timer = null;
      const t0 = performance.now();
      try {
        for await (const ev of sse(res)) {
          if (ev.event === "passages") {
            showSources(turn, ev.data);
            const n = ev.data.length;
            const tick = () => {
              const s = Math.round((performance.now() - t0) / 1000);
              status.textContent = n ? t("js.reading", { n, time: t("unit.s", { v: s }) }) : t("js.no_passages");
            };
            tick();
            timer = setInterval(tick, 1000);
          } else if (ev.event === "token") {
            if (timer) clearInterval(timer), (timer = null);
            status.textContent = t("js.writing");
            streamed += ev.data;
            answerBox.textContent = streamed;
          } else if (ev.event === "reasoning") {
            const d = turn.querySelector(".reasoning");
            d.hidden = false;
            d.querySelector("pre").textContent += ev.data;
          } else if (ev.event === "done") {
            if (timer) clearInterval(timer);
            finish(turn, ev.data);
            return ev.data;
          } else if (ev.event === "error") {
            if (timer) clearInterval(timer);
            return fail(turn, ev.data.error.message);
          }
        }
      } catch {
        if (signal.aborted) return null; // New chat: the turn is gone already
      } finally {
        if (timer) clearInterval(timer);
      }
      return fail(turn, t("js.lost"));
    }
  }

  // The manual picker: a filterable checkbox list (usable with hundreds of manuals); htmx
  // reloads the list when the collection changes, keeping the chosen manuals of that collection.
  function initPicker(form) {
    const box = form.querySelector("#manual-picker");
    const summary = box.querySelector("#manual-summary");
    const filter = box.querySelector("#manual-filter");
    const nomatch = box.querySelector("#manual-nomatch");
    const options = box.querySelector("#manual-options");
    const chosen = () => [...options.querySelectorAll('input[name="doc"]:checked')].map((i) => ({ id: i.value, title: i.dataset.title }));
    const update = () => {
      const docs = chosen();
      summary.textContent = !docs.length ? t("js.all_manuals") : docs.length === 1 ? docs[0].title : t("count.manuals", { n: docs.length });
    };
    const applyFilter = () => {
      const q = filter.value.trim().toLowerCase();
      let shown = 0;
      options.querySelectorAll(".manual-option").forEach((li) => {
        const hit = !q || li.textContent.toLowerCase().includes(q);
        li.hidden = !hit;
        shown += hit;
      });
      const any = options.querySelector(".manual-option");
      nomatch.textContent = any && !shown ? t("js.no_manual_match", { q: filter.value.trim() }) : "";
    };
    filter.addEventListener("input", applyFilter);
    filter.addEventListener("keydown", (e) => e.key === "Enter" && e.preventDefault()); // not a submit
    options.addEventListener("change", update);
    box.querySelector("#manual-clear").addEventListener("click", () => {
      options.querySelectorAll('input[name="doc"]:checked').forEach((i) => (i.checked = false));
      update();
    });
    box.addEventListener("toggle", () => box.open && filter.focus());
    box.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || !box.open) return;
      e.stopPropagation();
      box.open = false;
      box.querySelector("summary").focus();
    });
    document.addEventListener("click", (e) => box.open && !box.contains(e.target) && (box.open = false));
    options.addEventListener("htmx:afterSwap", () => (applyFilter(), update()));
    return { chosen, max: Number(box.dataset.max) };
  }

  // The answer header says where the question was asked: the chosen manuals, or a collection.
  function showScope(turn, coll, docs) {
    const scope = turn.querySelector(".scope");
    const shown = docs.slice(0, 3).map((d) => d.title);
    let list = shown.join(t("js.list_sep"));
    if (docs.length > shown.length) list = t("js.scope_more", { list, n: docs.length - shown.length });
    if (docs.length) scope.textContent = t("js.scope_manuals", { manuals: list });
    else if (coll) scope.textContent = t("js.scope_collection", { collection: coll });
    scope.hidden = !docs.length && !coll;
  }

  function fail(turn, message) {
    turn.classList.add("failed");
    turn.querySelector(".turn-status").textContent = "";
    const n = turn.querySelector(".notice");
    n.hidden = false;
    n.textContent = message;
    return null;
  }

  function showSources(turn, passages) {
    const box = turn.querySelector(".sources");
    const list = box.querySelector(".source-list");
    list.replaceChildren(
      ...passages.map((p) => {
        const li = el("li");
        li.append(chip(p, true));
        return li;
      })
    );
    box.hidden = passages.length === 0;
    turn.dataset.chunks = passages.map((p) => p.chunk_id).join(" ");
  }

  function finish(turn, data) {
    const status = turn.querySelector(".turn-status");
    const answerBox = turn.querySelector(".answer");
    const notice = turn.querySelector(".notice");
    status.textContent = "";
    if (data.passages.map((p) => p.chunk_id).join(" ") !== turn.dataset.chunks) showSources(turn, data.passages);
    turn.dataset.answerId = data.id;
    if (data.notice) {
      // The API words it in English; the page words its code in the page's language.
      const key = `notice.${data.notice_code}`;
      notice.hidden = false;
      notice.textContent = key in strings ? t(key, { detail: data.notice_detail }) : data.notice;
    }
    if (data.refused) turn.querySelector(".sources-label").textContent = t("js.closest");
    if (data.mode === "retrieval-only") {
      turn.classList.add("retrieval-only");
      answerBox.replaceChildren(...data.passages.map(passageCard));
    } else {
      if (data.refused) turn.classList.add("refused");
      if (data.mode === "unsupported") turn.classList.add("unsupported");
      answerBox.replaceChildren(...withChips(data.answer, data.citations, data.passages));
      if (data.mode === "llm" && data.unsupported && data.unsupported.length) {
        // claims no passage supports (an obeyed injection's among them): listed, not trusted
        const box = el("div", "unsupported-list");
        const ul = el("ul");
        data.unsupported.forEach((s) => ul.append(el("li", "", s)));
        box.append(el("p", "", t("js.unsupported")), ul);
        answerBox.after(box); // beside the answer, not in it: the answer's text stays the answer
      }
      const cited = new Set(data.citations.map((c) => String(c.n)));
      turn.querySelectorAll(".source-list .chip").forEach((c) => c.classList.toggle("cited", cited.has(c.dataset.n)));
    }
    if (data.reasoning) {
      const d = turn.querySelector(".reasoning");
      d.hidden = false;
      d.querySelector("pre").textContent = data.reasoning;
    }
    const tm = data.timings || {};
    const parts = [t("js.timing_retrieval", { time: ms(tm.retrieval_ms) })];
    if (tm.first_token_ms != null) parts.push(t("js.timing_first_token", { time: ms(tm.first_token_ms) }));
    parts.push(t("js.timing_total", { time: ms(tm.total_ms) }));
    if (data.usage) parts.push(t("js.timing_tokens", { prompt: data.usage.prompt_tokens, answer: data.usage.completion_tokens }));
    turn.querySelector(".timing").textContent = parts.join(" · ");
    turn.classList.add("done");
    wireActions(turn, data);
    document.body.dispatchEvent(new CustomEvent("folio:answered", { bubbles: true }));
  }

  // The answer's text with each valid [n] marker turned into a chip that opens passage n.
  function withChips(text, citations, passages) {
    const byN = new Map(passages.map((p) => [String(p.n), p]));
    const out = [];
    let last = 0;
    for (const m of text.matchAll(/\[(\d{1,2})\]/g)) {
      const p = byN.get(m[1]);
      if (!p) continue;
      out.push(document.createTextNode(text.slice(last, m.index)));
      out.push(chip(p));
      last = m.index + m[0].length;
    }
    out.push(document.createTextNode(text.slice(last)));
    return out;
  }

  function passageCard(p) {
    const card = el("div", "passage-card");
    const head = el("p", "passage-head");
    head.append(chip(p), " ", el("strong", "", p.title), " ", el("span", "muted", loc(p)));
    const text = reflow(p.text);
    const body = text.length > 360 ? text.slice(0, 360) + "…" : text;
    card.append(head, el("p", "passage-snippet", body));
    return card;
  }

  function wireActions(turn, data) {
    const place = (p) => `[${p.n}] ${p.title}${t("js.chip_locator", { locator: loc(p) })}`;
    const sources = data.citations.map((c) => `${place(c)} (${c.doc})`);
    const text = data.mode === "retrieval-only"
      ? data.passages.map((p) => `${place(p)}\n${p.text}`).join("\n\n")
      : data.answer + (sources.length ? `\n\n${t("js.copy_sources")}\n${sources.join("\n")}` : "");
    const copy = turn.querySelector(".copy");
    copy.addEventListener("click", async () => {
      copy.textContent = t((await copyText(text)) ? "js.copied" : "js.copy_failed");
      setTimeout(() => (copy.textContent = t("ask.copy")), 2000);
    });
    turn.querySelectorAll(".vote").forEach((b) =>
      b.addEventListener("click", async () => {
        const res = await fetch("/api/v1/feedback", {
          method: "POST",
          headers: withCsrf({ "Content-Type": "application/json" }),
          body: JSON.stringify({ answer_id: data.id, rating: b.dataset.rating }),
        });
        if (res.ok) turn.querySelectorAll(".vote").forEach((v) => v.setAttribute("aria-pressed", String(v === b)));
      })
    );
  }

  // --- uploads -----------------------------------------------------------------------------------
  const upForm = document.getElementById("upload-form");
  if (upForm) initUpload(upForm);

  function initUpload(form) {
    const input = form.querySelector("#file-input");
    const zone = form.querySelector("#dropzone");
    const list = form.querySelector("#upload-list");
    const coll = form.querySelector("#upload-collection");
    const maxMb = Number(form.dataset.maxMb);
    const send = async (files) => {
      for (const f of files) await upload(f);
    };
    input.addEventListener("change", () => {
      send([...input.files]);
      input.value = "";
    });
    for (const t of ["dragenter", "dragover"]) zone.addEventListener(t, (e) => (e.preventDefault(), zone.classList.add("over")));
    for (const t of ["dragleave", "drop"]) zone.addEventListener(t, (e) => (e.preventDefault(), zone.classList.remove("over")));
    zone.addEventListener("drop", (e) => send([...e.dataTransfer.files]));
    form.addEventListener("submit", (e) => (e.preventDefault(), send([...input.files])));

    function upload(file) {
      return new Promise((resolve) => {
        const li = el("li");
        const bar = el("progress");
        bar.max = file.size || 1;
        bar.value = 0;
        bar.setAttribute("aria-label", t("js.uploading_label", { name: file.name }));
        const msg = el("span", "upload-msg", t("js.uploading"));
        li.append(el("span", "upload-name", file.name), bar, msg);
        list.prepend(li);
        const done = (ok, text) => {
          bar.remove();
          li.classList.add(ok ? "ok" : "error");
          msg.textContent = text;
          resolve();
        };
        if (file.size > maxMb * 1048576) return done(false, t("js.too_large", { mb: maxMb }));
        const fd = new FormData();
        fd.append("file", file, file.name);
        const xhr = new XMLHttpRequest();
        xhr.open("POST", `/api/v1/documents?collection=${encodeURIComponent(coll.value.trim())}`);
        if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
        xhr.upload.onprogress = (e) => e.lengthComputable && ((bar.max = e.total), (bar.value = e.loaded));
        xhr.onload = () => {
          let j = null;
          try {
            j = JSON.parse(xhr.responseText);
          } catch {
            /* not JSON */
          }
          if (xhr.status === 202) {
            done(true, t("js.uploaded"));
            htmx.trigger(document.body, "folio:jobs");
          } else {
            done(false, (j && j.error && j.error.message) || t("js.upload_failed", { status: String(xhr.status) }));
          }
        };
        xhr.onerror = () => done(false, t("js.upload_lost"));
        xhr.send(fd);
      });
    }
  }
})();
