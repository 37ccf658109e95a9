/* Gamify widgets: live updates by conditional polling, countdowns, celebrations, the store.
   Plain JavaScript, no build step. Everything configurable comes from data- attributes
   (the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";
  var body = document.body;
  var lang = body.dataset.lang || "en";
  var intlLang = { "zh-hans": "zh-Hans", "zh-hant": "zh-Hant", fa: "fa-IR" }[lang] || "en";
  var numbers = new Intl.NumberFormat(intlLang);
  var live = document.querySelector("[data-live]");
  var etag = null;
  var busy = false;

  function pollUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    url.searchParams.set("patch", "1"); // the card may answer with its standings alone
    return url.toString();
  }

  // A standings answer (JSON): only the card's ranks moved. Each text goes into its
  // data-standing element, as a rendering of the live region would have written it; an
  // element the page lacks means it is out of step, so the next poll asks for all of it.
  function patch(standings) {
    Object.keys(standings).forEach(function (name) {
      var el = live.querySelector('[data-standing="' + name + '"]');
      if (!el) { etag = null; return; }
      if (el.textContent !== standings[name]) el.textContent = standings[name];
    });
  }

  function snapshot() {
    var card = live && live.querySelector("[data-level]");
    if (!card) return null;
    return { level: +card.dataset.level, badges: +card.dataset.badges, wins: +card.dataset.wins };
  }

  function celebrate(before, after) {
    if (!before || !after) return;
    var box = document.getElementById("celebrate");
    var text = null;
    if (after.wins > before.wins) text = box.dataset.win;
    else if (after.level > before.level) text = box.dataset.level;
    else if (after.badges > before.badges) text = box.dataset.badge;
    if (!text) return;
    box.hidden = false;
    box.textContent = text;
    box.style.animation = "none";
    void box.offsetWidth; // restart the animation (none under prefers-reduced-motion)
    box.style.animation = "";
    window.clearTimeout(celebrate.timer);
    celebrate.timer = window.setTimeout(function () { box.hidden = true; }, 4000);
  }

  function poll() {
    if (!live || busy || document.hidden) return;
    busy = true;
    var headers = {};
    if (etag) headers["If-None-Match"] = etag;
    fetch(pollUrl(), { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status === 304) return null;
        if (response.status === 401) { window.location.reload(); return null; }
        if (!response.ok) return null;
        etag = response.headers.get("ETag");
        if ((response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
          return response.json().then(function (data) { patch(data.standings || {}); return null; });
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        var before = snapshot();
        var focused = document.activeElement && document.activeElement.dataset
          ? document.activeElement.dataset.reward : null;
        live.innerHTML = html;
        if (focused) {
          var again = live.querySelector('[data-reward="' + focused + '"]');
          if (again) again.focus();
        }
        celebrate(before, snapshot());
        tick();
        bindStore();
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .finally(function () { busy = false; });
  }

  function duration(ms) {
    if (ms <= 0) return body.dataset.endedLabel;
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    function two(n) { return new Intl.NumberFormat(intlLang, { minimumIntegerDigits: 2 }).format(n); }
    var clock = two(h) + ":" + two(m) + ":" + two(sec);
    return d > 0 ? numbers.format(d) + body.dataset.daysLabel + " " + clock : clock;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-ends]").forEach(function (el) {
      var ends = +el.dataset.ends;
      if (ends) el.textContent = duration(ends - now);
    });
    document.querySelectorAll("[data-clock]").forEach(function (el) {
      el.textContent = new Intl.DateTimeFormat(intlLang, { hour: "2-digit", minute: "2-digit", timeZone: body.dataset.tz || undefined }).format(new Date());
    });
  }

  // --- the store: one Idempotency-Key per intent, so a double click is one redemption ------
  var pending = {};
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function redeem(button) {
    var reward = button.dataset.reward;
    var token = new URL(window.location.href).searchParams.get("token");
    var message = document.getElementById("store-message");
    // A second click while the first is on its way re-sends the same key: the server answers
    // with the first redemption instead of making another.
    var key = pending[reward] || (pending[reward] = newKey());
    button.setAttribute("aria-busy", "true");
    fetch("/widgets/store/redeem?lang=" + encodeURIComponent(lang), {
      method: "POST",
      credentials: "omit",
      headers: { "Authorization": "Bearer " + token, "Idempotency-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ reward: +reward })
    })
      .then(function (response) { return response.json().then(function (data) { return [response, data]; }); })
      .then(function (pair) {
        var response = pair[0], data = pair[1];
        message.textContent = response.ok ? message.dataset.requested : (data.detail || message.dataset.failed);
        etag = null;
        poll();
      })
      .catch(function () { message.textContent = message.dataset.failed; })
      .finally(function () {
        button.removeAttribute("aria-busy");
        window.setTimeout(function () { delete pending[reward]; }, 1500);
      });
  }

  function bindStore() {
    document.querySelectorAll("button.redeem").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () { redeem(button); });
    });
  }

  // --- the leaderboard's filters apply as soon as they change ---------------------------------
  document.querySelectorAll("form.controls select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  bindStore();
  tick();
  window.setInterval(tick, 1000);
  var every = Math.max(1, +body.dataset.poll || 2) * 1000;
  window.setInterval(poll, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
})();
