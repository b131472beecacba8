/*
 * The place admin's live occupancy page (N8): how many people are inside the place now, its
 * capacity and whether it is full, refreshed every few seconds; and the counting setting.
 * It signs in with this phone's device key (the same one the scan pages keep) and uses only the
 * JSON API: getPlaceOccupancy and setPlaceOccupancy.
 */
(function () {
  "use strict";

  var app = document.getElementById("occupancy-app");
  if (!app) {
    return;
  }
  var DEVICE_KEY = "hc.h5.device_key";
  var SESSION_TOKEN = "hc.h5.token";
  var PATH = "/api/v1/place-admin/place/occupancy";
  var REFRESH_MS = (parseInt(app.getAttribute("data-refresh-seconds"), 10) || 5) * 1000;
  var CHINA_OFFSET_MS = 8 * 3600 * 1000;
  var NETWORK_ERROR = {code: "network", message: "网络连接失败，请检查网络后重试", field: null};
  var editing = false;

  function $(id) {
    return document.getElementById(id);
  }

  function store(name) {
    return {
      get: function (key) { try { return window[name].getItem(key); } catch (e) { return null; } },
      set: function (key, value) { try { window[name].setItem(key, value); } catch (e) { /* not kept */ } },
      remove: function (key) { try { window[name].removeItem(key); } catch (e) { /* nothing kept */ } }
    };
  }
  var local = store("localStorage");
  var session = store("sessionStorage");

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function chinaClock(ms) {
    var d = new Date(ms + CHINA_OFFSET_MS);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  async function call(method, path, body, anonymous, retried) {
    var headers = {"Accept": "application/json"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (!anonymous) {
      try {
        headers.Authorization = "Bearer " + (session.get(SESSION_TOKEN) || await signIn());
      } catch (error) {
        return {ok: false, status: 0, error: error};
      }
    }
    var response;
    try {
      response = await fetch(path, {method: method, headers: headers, cache: "no-store", credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      return {ok: false, status: 0, error: NETWORK_ERROR};
    }
    var payload = null;
    try {
      payload = await response.json();
    } catch (e) {
      payload = null;
    }
    if (response.status === 401 && !anonymous && !retried) {
      session.remove(SESSION_TOKEN);
      return call(method, path, body, false, true);
    }
    if (response.ok && payload && "data" in payload) {
      return {ok: true, status: response.status, data: payload.data};
    }
    var error = payload && payload.error;
    if (!error || !error.message) {
      error = {code: "http_" + response.status, field: null,
        message: response.status >= 500 ? "服务器繁忙，请稍后再试" : "请求失败（" + response.status + "）"};
    }
    return {ok: false, status: response.status, error: error};
  }

  async function signIn() {
    var result = await call("POST", "/api/v1/auth/device/login", {device_key: local.get(DEVICE_KEY) || null}, true);
    if (!result.ok) {
      throw result.error;
    }
    local.set(DEVICE_KEY, result.data.device_key);
    session.set(SESSION_TOKEN, result.data.token);
    return result.data.token;
  }

  function topError(message) {
    var top = $("top-error");
    top.textContent = message || "";
    top.hidden = !message;
  }

  function fieldError(message) {
    var slot = document.querySelector('[data-error-for="capacity"]');
    slot.textContent = message || "";
    slot.hidden = !message;
  }

  function show(view) {
    $("loading").hidden = true;
    $("live").hidden = false;
    $("settings").hidden = false;
    $("counting-off").hidden = view.counting;
    $("live-figures").hidden = !view.counting;
    $("inside").textContent = String(view.inside);
    $("capacity").textContent = view.capacity === null ? "不限" : String(view.capacity);
    var status = $("live-status");
    status.textContent = view.full ? "人数已满，暂停入场" : (view.available === null ? "可入场" : "还可进入 " + view.available + " 人");
    status.className = view.full ? "live-status full" : "live-status";
    $("updated-at").textContent = chinaClock(Date.now());
    if (!editing) {
      $("counting").checked = view.counting;
      $("capacity-input").value = view.capacity === null ? "" : String(view.capacity);
    }
  }

  async function refresh() {
    var result = await call("GET", PATH);
    if (result.ok) {
      topError("");
      show(result.data);
    } else {
      $("loading").hidden = true;
      topError(result.error.code === "no_place" ? "您不是场所管理员：只有场所管理员可以查看在场人数" : result.error.message);
    }
  }

  async function save(event) {
    event.preventDefault();
    fieldError("");
    $("saved").hidden = true;
    var text = $("capacity-input").value.trim();
    var capacity = null;
    if (text !== "") {
      if (!/^-?\d+$/.test(text)) {
        fieldError("容纳人数应为整数");
        return;
      }
      capacity = Number(text);
    }
    var result = await call("PUT", PATH, {counting: $("counting").checked, capacity: capacity});
    if (!result.ok) {
      if (result.error.field === "capacity") {
        fieldError(result.error.message);
      } else {
        topError(result.error.message);
      }
      return;
    }
    editing = false;
    $("saved").hidden = false;
    show(result.data);
  }

  $("settings-form").addEventListener("submit", save);
  $("settings-form").addEventListener("input", function () { editing = true; });
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
