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
  var NETWORK_ERROR = {code: "network", message: "网络连接失败，请检查网络后重试", field: null};
  var editing = false;

  function $(id) {
    return document.getElementById(id);
  }

  var h5 = window.hcH5; // common.js: what the H5 pages' scripts share
  var local = h5.store("localStorage");
  var session = h5.store("sessionStorage");

  var account = {
    token: async function () {
      try {
        return session.get(SESSION_TOKEN) || await signIn();
      } catch (error) {
        return {ok: false, status: 0, error: error};
      }
    },
    forget: function () {
      session.remove(SESSION_TOKEN);
    }
  };

  function call(method, path, body) {
    return h5.signedRequest(method, path, body, account, NETWORK_ERROR);
  }

  async function signIn() {
    var result = await h5.request("POST", "/api/v1/auth/device/login", {device_key: local.get(DEVICE_KEY) || null}, {},
      NETWORK_ERROR);
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
    $("updated-at").textContent = h5.chinaClock(Date.now());
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
