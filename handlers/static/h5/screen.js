/*
 * A door screen's page (N1): shows the place's code, which changes every window.
 *
 * The page's URL holds the screen's device key (/screen/{token}?key=...). Each window the script
 * asks getScreenCode (the key in the X-Screen-Key header) for the code of the window: a QR image
 * drawn by the server, the server's time and how long until the next code. The clock shown is
 * the server's, carried forward with performance.now(), so a tablet with a wrong clock or time
 * zone still shows the right time. A code the server would no longer accept is dimmed; a key
 * that was revoked stops the page with the server's message. No framework, no third-party code.
 */
(function () {
  "use strict";

  var root = document.getElementById("screen");
  if (!root) {
    return; // the error page: nothing to run
  }
  var chinaClock = window.hcH5.chinaClock; // common.js: Asia/Shanghai keeps no daylight saving
  var TOKEN = root.getAttribute("data-token");
  var KEY = new URLSearchParams(window.location.search).get("key") || "";
  var RETRY_MS = 3000;
  var state = {serverMs: null, perfAt: 0, changeAt: null, validUntil: null, timer: null, stopped: false};

  function $(id) {
    return document.getElementById(id);
  }

  function serverNow() {
    return state.serverMs + (performance.now() - state.perfAt);
  }

  function notice(message) {
    var box = $("screen-notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function schedule(ms) {
    if (state.stopped) {
      return;
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, Math.max(0, ms));
  }

  function stop(message) {
    state.stopped = true;
    clearTimeout(state.timer);
    $("qr").hidden = true;
    $("qr").removeAttribute("src");
    $("qr-loading").hidden = true;
    notice(message);
  }

  function show(data) {
    state.serverMs = data.server_ms;
    state.perfAt = performance.now();
    state.changeAt = data.server_ms + data.next_change_ms;
    // The server accepts a code in its own window and the next one.
    state.validUntil = state.changeAt + data.window_seconds * 1000;
    var img = $("qr");
    img.src = data.image;
    img.setAttribute("data-url", data.url);
    img.setAttribute("data-window", String(data.window));
    img.classList.remove("stale");
    img.hidden = false;
    $("qr-loading").hidden = true;
    $("window-seconds").textContent = String(data.window_seconds);
    notice(null);
    tick();
    schedule(data.next_change_ms + 150); // just past the change, so the next window is certain
  }

  async function refresh() {
    var response;
    var payload = null;
    try {
      response = await fetch("/api/v1/screens/" + encodeURIComponent(TOKEN) + "/code", {
        headers: {"Accept": "application/json", "X-Screen-Key": KEY}, cache: "no-store", credentials: "omit"});
      payload = await response.json();
    } catch (e) {
      notice("网络连接中断，正在重新连接…");
      schedule(RETRY_MS);
      return;
    }
    if (response.ok && payload && payload.data) {
      show(payload.data);
      return;
    }
    var error = payload && payload.error;
    var message = (error && error.message) || "服务器繁忙，请稍后再试";
    if (response.status === 403 || response.status === 409) {
      stop(message); // a revoked key or a closed place: no retry will mend it
      return;
    }
    notice(message);
    schedule(RETRY_MS);
  }

  function tick() {
    if (state.serverMs === null || state.stopped) {
      return;
    }
    var now = serverNow();
    $("server-time").textContent = chinaClock(now);
    $("countdown").textContent = String(Math.max(0, Math.ceil((state.changeAt - now) / 1000)));
    if (now >= state.validUntil) {
      $("qr").classList.add("stale"); // a scan of it would be refused: do not invite one
      notice("场所码已过期，正在重新获取…");
    }
  }

  setInterval(tick, 250);
  refresh();
})();
