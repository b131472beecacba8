/*
 * The inspector's page (N7): verify a citizen's health code, scanned with the camera (jsQR, when
 * the server has it installed) or typed, and record a temperature check; through the JSON API
 * when online, and without any network when offline:
 *
 * - the service worker (/inspect/sw.js) keeps this page, its files and the verification list
 *   (Ed25519 public keys + revoked paper codes, with the time the list was made);
 * - offline, a code is verified here with WebCrypto, as services/people/health_codes.py verifies it, and
 *   the verdict says 离线核验 with the list's time;
 * - a check made offline is queued in localStorage with a request id made here and the time of
 *   the check; the queue is sent when the `online` event fires (and on every load). The server
 *   answers a request id it has seen with its first answer, so a queue sent twice writes one
 *   record per check; an item is removed only once the server has answered it.
 *
 * Server text is always set with textContent, never as HTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("inspect");
  if (!root) {
    return;
  }

  var DEVICE_KEY = "hc.inspect.device_key"; // this phone's inspector identity
  var TOKEN = "hc.inspect.token"; // kept in localStorage: an offline reload must still send the queue
  var PLACES = "hc.inspect.places"; // the bound places, to show where we are when offline
  var LIST = "hc.inspect.list"; // a second copy of the list, should the worker not be there yet
  var QUEUE = "hc.inspect.queue"; // checks waiting for the network
  var LIST_PATH = "/api/v1/health-codes/offline-list";
  var FEVER = Number(root.getAttribute("data-fever"));
  var TEMPERATURE_MIN = Number(root.getAttribute("data-temperature-min"));
  var TEMPERATURE_MAX = Number(root.getAttribute("data-temperature-max"));
  var COLOUR_LABELS = {green: "绿码", yellow: "黄码", orange: "橙码", red: "红码", unknown: "未知"};
  var CODE_ERRORS = {
    code_malformed: "无法识别的健康码",
    code_forged: "健康码签名无效，可能是伪造的",
    code_expired: "健康码已过期，请刷新后重新出示",
    code_revoked: "该纸质健康码已作废",
    no_list: "本机还没有离线核验名单，请联网后打开本页一次",
    no_crypto: "本机浏览器不支持离线验签，请联网核验"
  };

  var state = {
    place: null, // the current bound place
    list: null, // the verification list in use
    payload: null, // the code of the verdict on screen
    sending: false,
    camera: null // {stream, timer}
  };
  var h5 = window.hcH5; // common.js: what the H5 pages' scripts share
  var local = h5.store("localStorage");

  // --- small helpers --------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function show(node, visible) {
    if (node) {
      node.hidden = !visible;
    }
  }

  function chinaIso(ms) {
    return h5.chinaTime(ms).replace(" ", "T") + "+08:00";
  }

  function isOnline() {
    return navigator.onLine !== false;
  }

  function clearErrors() {
    show($("top-error"), false);
    show($("top-notice"), false);
    document.querySelectorAll("[data-error-for]").forEach(function (node) {
      node.textContent = "";
      show(node, false);
    });
  }

  function topError(message) {
    var top = $("top-error");
    top.textContent = message;
    show(top, true);
  }

  function fieldError(field, message) {
    var node = document.querySelector('[data-error-for="' + field + '"]');
    if (node) {
      node.textContent = message;
      show(node, true);
    } else {
      topError(message);
    }
  }

  function showError(error) {
    if (error.field) {
      fieldError(error.field, error.message);
    } else {
      topError(error.message);
    }
  }

  // --- the API --------------------------------------------------------------------------------

  var NETWORK_ERROR = {code: "network", message: "网络连接失败，已转为离线模式", field: null};

  // The inspector's token is kept in localStorage: an offline reload must still send the queue.
  var account = h5.deviceSession(local, TOKEN, DEVICE_KEY, NETWORK_ERROR);

  // One call as the signed-in inspector: {ok, status, data} or {ok: false, status, error, network}.
  // A 5xx (or the worker's own failure) counts as no network: what was queued is kept.
  function api(method, path, body) {
    return h5.signedRequest(method, path, body, account, NETWORK_ERROR);
  }

  // --- network status -------------------------------------------------------------------------

  function showNetwork() {
    var node = $("net-status");
    if (isOnline()) {
      node.textContent = "已联网：在线核验";
      node.className = "net-status";
    } else {
      node.textContent = "网络已断开：离线核验，登记将在联网后自动上传";
      node.className = "net-status offline";
    }
  }

  // --- places ---------------------------------------------------------------------------------

  function showPlace(place) {
    state.place = place;
    $("place-name").textContent = place.name;
    $("place-type").textContent = place.type_label || "";
    $("place-address").textContent = place.address || "";
    show($("bind"), false);
    show($("work"), true);
  }

  async function loadPlaces() {
    var result = await api("GET", "/api/v1/inspector/places");
    var items;
    if (result.ok) {
      items = result.data.items;
      local.set(PLACES, JSON.stringify(items));
    } else if (result.network) {
      items = local.json(PLACES, []);
    } else {
      topError(result.error.message);
      return;
    }
    if (items.length) {
      showPlace(items[0]);
    } else if (isOnline()) {
      show($("bind"), true);
    } else {
      topError("本机尚未绑定场所，请联网后绑定");
    }
  }

  async function bind(event) {
    event.preventDefault();
    clearErrors();
    var code = $("declaration-code").value.trim();
    if (!code) {
      fieldError("declaration_code", "请输入场所申报码");
      return;
    }
    $("bind-submit").disabled = true;
    var result = await api("POST", "/api/v1/inspector/places", {declaration_code: code});
    $("bind-submit").disabled = false;
    if (!result.ok) {
      showError(result.error);
      return;
    }
    local.set(PLACES, JSON.stringify(result.data.items));
    // The account is an inspector from now on: sign in again so the token carries the role.
    local.remove(TOKEN);
    showPlace(result.data.items[0]);
    loadList();
  }

  // --- the verification list ------------------------------------------------------------------

  function useList(list) {
    state.list = list;
    $("list-time").textContent = list ? h5.chinaTime(list.generated_at_unix * 1000) : "尚未下载";
  }

  // Through the worker (which keeps it); offline the worker answers the kept copy.
  async function loadList() {
    var result = await api("GET", LIST_PATH);
    if (result.ok) {
      local.set(LIST, JSON.stringify(result.data));
      useList(result.data);
    } else {
      useList(state.list || local.json(LIST, null));
    }
  }

  // --- offline verification (as services/people/health_codes.py verifies) ------------------------------

  function codeError(code) {
    var error = new Error(CODE_ERRORS[code]);
    error.code = code;
    return error;
  }

  function b64urlBytes(text) {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) {
      throw codeError("code_malformed");
    }
    var standard = text.replace(/-/g, "+").replace(/_/g, "/");
    standard += "====".slice(0, (4 - standard.length % 4) % 4);
    var binary;
    try {
      binary = atob(standard);
    } catch (e) {
      throw codeError("code_malformed");
    }
    // Only the canonical spelling: one code, one string (as the server insists).
    if (btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") !== text) {
      throw codeError("code_malformed");
    }
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function isInt(value) {
    return typeof value === "number" && Math.floor(value) === value;
  }

  async function verifyOffline(payload, list) {
    if (!list) {
      throw codeError("no_list");
    }
    payload = payload.trim();
    if (payload.length > 2048 || !/^[\x00-\x7f]*$/.test(payload)) {
      throw codeError("code_malformed");
    }
    var parts = payload.split(".");
    if (parts.length !== 3 || parts[0] !== list.prefix) {
      throw codeError("code_malformed");
    }
    var body = b64urlBytes(parts[1]);
    var signature = b64urlBytes(parts[2]);
    var claims;
    try {
      claims = JSON.parse(new TextDecoder("utf-8", {fatal: true}).decode(body));
    } catch (e) {
      throw codeError("code_malformed");
    }
    if (!claims || typeof claims !== "object" || claims.v !== list.version) {
      throw codeError("code_malformed");
    }
    var keyText = typeof claims.kid === "string" && Object.prototype.hasOwnProperty.call(list.keys, claims.kid)
      ? list.keys[claims.kid] : null;
    if (!keyText || signature.length !== 64) {
      throw codeError("code_forged");
    }
    var good;
    try {
      var raw = Uint8Array.from(atob(keyText), function (c) { return c.charCodeAt(0); });
      var key = await crypto.subtle.importKey("raw", raw, {name: "Ed25519"}, false, ["verify"]);
      good = await crypto.subtle.verify({name: "Ed25519"}, key, signature,
        new TextEncoder().encode(parts[0] + "." + parts[1]));
    } catch (e) {
      throw codeError("no_crypto");
    }
    if (!good) {
      throw codeError("code_forged");
    }
    if ((claims.t !== "d" && claims.t !== "p") || !isInt(claims.p) || !isInt(claims.iat) || !isInt(claims.exp) ||
        claims.exp < claims.iat || typeof claims.n !== "string" || (claims.t === "p" && !isInt(claims.c))) {
      throw codeError("code_malformed");
    }
    var now = Date.now() / 1000;
    if (claims.iat > now + list.clock_skew_seconds) {
      throw codeError("code_forged");
    }
    if (now > claims.exp) {
      throw codeError("code_expired");
    }
    if (claims.t === "p" && list.revoked_paper_codes.indexOf(claims.c) >= 0) {
      throw codeError("code_revoked");
    }
    return claims;
  }

  // --- the verdict ----------------------------------------------------------------------------

  function fact(list, label, value) {
    var dt = document.createElement("dt");
    dt.textContent = label;
    var dd = document.createElement("dd");
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function showVerdict(verdict) {
    var block = $("verdict-block");
    block.className = "verdict-block " + (verdict.valid ? "colour-" + (verdict.colour || "unknown") : "invalid");
    $("verdict-colour").textContent = verdict.title;
    $("verdict-mode").textContent = verdict.mode;
    var facts = $("verdict-facts");
    facts.textContent = "";
    verdict.facts.forEach(function (pair) { fact(facts, pair[0], pair[1]); });
    $("verdict-warning").textContent = verdict.warning || "";
    show($("verdict-warning"), !!verdict.warning);
    show($("check-card"), verdict.valid);
    show($("check-result"), false);
    $("check-submit").disabled = false;
    show($("verdict"), true);
    state.payload = verdict.valid ? verdict.payload : null;
  }

  function onlineVerdict(payload, data) {
    return {
      valid: true, payload: payload, colour: data.colour, title: data.colour_label, mode: "在线核验",
      facts: [["姓名", data.name], ["证件号码", data.id_number],
        ["码类型", data.code_kind === "paper" ? "纸质码" : "动态码"],
        ["签发时间", h5.chinaTime(Date.parse(data.issued_at))]].concat(
        data.reasons.length ? [["原因", data.reasons.join("；")]] : [])
    };
  }

  function offlineVerdict(payload, claims, list) {
    var paper = claims.t === "p";
    var colour = paper ? null : (COLOUR_LABELS[claims.col] ? claims.col : null);
    var listTime = h5.chinaTime(list.generated_at_unix * 1000);
    var stale = Date.now() / 1000 - list.generated_at_unix > list.stale_after_seconds;
    return {
      valid: true, payload: payload, colour: colour,
      title: colour ? COLOUR_LABELS[colour] : "健康码有效",
      mode: "离线核验（名单时间 " + listTime + "）",
      facts: [["核验方式", "离线核验"], ["名单时间", listTime],
        ["码类型", paper ? "纸质码" : "动态码"],
        ["签发时间", h5.chinaTime(claims.iat * 1000)], ["有效期至", h5.chinaTime(claims.exp * 1000)],
        ["颜色", colour ? COLOUR_LABELS[colour] + "（出示时）" : "纸质码不含颜色，请联网后核验颜色"]],
      warning: stale ? "离线核验名单已超过 " + Math.round(list.stale_after_seconds / 3600) +
        " 小时未更新，可能漏掉新作废的纸质码，请尽快联网" : ""
    };
  }

  function invalidVerdict(message, offline) {
    return {valid: false, title: "核验未通过", mode: offline ? "离线核验" : "在线核验",
      facts: [["原因", message]]};
  }

  async function verify(payload) {
    clearErrors();
    payload = (payload || "").trim();
    if (!payload) {
      fieldError("payload", "请扫描或输入健康码");
      return;
    }
    $("code-submit").disabled = true;
    try {
      if (isOnline()) {
        var result = await api("POST", "/api/v1/health-codes/verify", {payload: payload});
        if (result.ok) {
          showVerdict(onlineVerdict(payload, result.data));
          return;
        }
        if (!result.network) {
          if (result.error.field === "payload" || result.error.code.indexOf("code_") === 0) {
            showVerdict(invalidVerdict(result.error.message, false));
          } else {
            topError(result.error.message);
          }
          return;
        }
      }
      var list = state.list || local.json(LIST, null);
      try {
        showVerdict(offlineVerdict(payload, await verifyOffline(payload, list), list));
      } catch (error) {
        if (error.code === "no_list" || error.code === "no_crypto") {
          topError(error.message);
        } else {
          showVerdict(invalidVerdict(error.message || CODE_ERRORS.code_malformed, true));
        }
      }
    } finally {
      $("code-submit").disabled = false;
    }
  }

  // --- temperature checks and the offline queue -------------------------------------------------

  function queue() {
    return local.json(QUEUE, []);
  }

  function saveQueue(items) {
    if (!local.set(QUEUE, JSON.stringify(items))) {
      topError("本机存储已满，离线登记无法保存，请联网后再登记");
      return false;
    }
    $("queue-count").textContent = String(items.length);
    return true;
  }

  function failed(item, message) {
    var li = document.createElement("li");
    li.textContent = item.checked_at.slice(0, 19).replace("T", " ") + " 的登记未能上传：" + message;
    $("queue-failures").appendChild(li);
  }

  // Send the queue, oldest first; an item leaves it only once the server has answered it.
  async function sendQueue() {
    if (state.sending || !isOnline()) {
      return;
    }
    state.sending = true;
    var sent = 0;
    try {
      var items = queue();
      while (items.length) {
        var item = items[0];
        var result = await api("POST", "/api/v1/inspector/checks", item);
        if (!result.ok && result.network) {
          break; // still no network (or the server is busy): keep it for the next try
        }
        if (result.ok) {
          sent += 1;
        } else {
          failed(item, result.error.message);
        }
        items = queue().filter(function (other) { return other.request_id !== item.request_id; });
        saveQueue(items);
      }
    } finally {
      state.sending = false;
      $("queue-count").textContent = String(queue().length);
    }
    if (sent) {
      var notice = $("top-notice");
      notice.textContent = "已上传 " + sent + " 条离线登记";
      show(notice, true);
    }
  }

  function checkBody() {
    var result = document.querySelector('input[name="result"]:checked').value;
    var text = $("check-temperature").value.trim();
    var body = {payload: state.payload, result: result, temperature: null, request_id: h5.newRequestId(),
      place_id: state.place.id};
    if (text) {
      var value = Number(text);
      if (!isFinite(value) || value < TEMPERATURE_MIN || value > TEMPERATURE_MAX) {
        throw {field: "temperature", message: "体温应在 " + TEMPERATURE_MIN + "～" + TEMPERATURE_MAX + "℃ 之间"};
      }
      if ((value >= FEVER) !== (result === "fever")) {
        throw {field: "temperature", message: "体温数值与“正常/发热”选择不一致"};
      }
      body.temperature = value;
    }
    return body;
  }

  function queueCheck(body, checkedAt) {
    body.checked_at = chinaIso(checkedAt);
    var items = queue();
    items.push(body);
    if (saveQueue(items)) {
      var note = $("check-result");
      note.textContent = "已离线登记（" + h5.chinaTime(checkedAt) + "），联网后自动上传";
      show(note, true);
      $("check-submit").disabled = true;
    }
  }

  async function check(event) {
    event.preventDefault();
    clearErrors();
    if (!state.payload || !state.place) {
      return;
    }
    var body;
    try {
      body = checkBody();
    } catch (error) {
      showError(error);
      return;
    }
    var checkedAt = Date.now();
    if (!isOnline()) {
      queueCheck(body, checkedAt);
      return;
    }
    $("check-submit").disabled = true;
    var result = await api("POST", "/api/v1/inspector/checks", body);
    if (result.ok) {
      var note = $("check-result");
      note.textContent = "已登记：" + (result.data.result === "fever" ? "发热" : "体温正常") +
        (result.data.admit ? "，允许进入" : "，不允许进入");
      show(note, true);
      return;
    }
    if (result.network) {
      // Lost on the way (perhaps after the server wrote it): queue it with the same request id.
      queueCheck(body, checkedAt);
      return;
    }
    $("check-submit").disabled = false;
    showError(result.error);
  }

  // --- the camera (getUserMedia + canvas + jsQR) ------------------------------------------------

  function decoderReady() {
    return typeof window.jsQR === "function" && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function stopCamera() {
    if (state.camera) {
      window.clearInterval(state.camera.timer);
      state.camera.stream.getTracks().forEach(function (track) { track.stop(); });
      state.camera = null;
    }
    $("camera-video").srcObject = null;
    show($("camera-box"), false);
    show($("camera-start"), decoderReady());
  }

  async function startCamera() {
    clearErrors();
    var stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
    } catch (e) {
      topError("无法打开摄像头，请允许使用摄像头或手动输入健康码");
      return;
    }
    var video = $("camera-video");
    video.srcObject = stream;
    try {
      await video.play();
    } catch (e) { /* a muted inline video plays; if not, frames still arrive */ }
    show($("camera-box"), true);
    show($("camera-start"), false);
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", {willReadFrequently: true});
    state.camera = {stream: stream, timer: window.setInterval(function () {
      if (!video.videoWidth) {
        return;
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(image.data, image.width, image.height, {inversionAttempts: "attemptBoth"});
      if (found && found.data) {
        stopCamera();
        $("code-input").value = found.data;
        verify(found.data);
      }
    }, 200)};
  }

  // --- start ----------------------------------------------------------------------------------

  async function registerWorker() {
    if (!("serviceWorker" in navigator)) {
      return;
    }
    try {
      await navigator.serviceWorker.register("/inspect/sw.js", {scope: "/inspect/"});
      await navigator.serviceWorker.ready;
    } catch (e) {
      return; // no worker (private mode, an old browser): the page still works online
    }
    if (!navigator.serviceWorker.controller) {
      // The first visit: wait for the new worker to take the page, so that it keeps the list.
      await new Promise(function (resolve) {
        navigator.serviceWorker.addEventListener("controllerchange", resolve, {once: true});
        window.setTimeout(resolve, 3000);
      });
    }
  }

  async function start() {
    showNetwork();
    $("queue-count").textContent = String(queue().length);
    $("bind-form").addEventListener("submit", bind);
    $("code-form").addEventListener("submit", function (event) {
      event.preventDefault();
      verify($("code-input").value);
    });
    $("check-form").addEventListener("submit", check);
    $("queue-send").addEventListener("click", sendQueue);
    $("camera-start").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
    show($("camera-start"), decoderReady());
    show($("camera-missing"), !decoderReady());
    window.addEventListener("online", function () {
      showNetwork();
      loadList();
      sendQueue();
    });
    window.addEventListener("offline", showNetwork);

    await registerWorker();
    useList(local.json(LIST, null));
    await loadPlaces();
    await loadList();
    show($("loading"), false);
    root.setAttribute("data-ready", "1");
    sendQueue();
  }

  start();
}());
