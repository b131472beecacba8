/*
 * What the H5 pages' scripts share, loaded before each page's own script: storage that never
 * throws, request ids, China time, and one call of the JSON API with its envelope read.
 * No framework, no third-party code; it adds one name to the page, `hcH5`.
 */
(function () {
  "use strict";

  var CHINA_OFFSET_MS = 8 * 3600 * 1000; // China has had no daylight saving time since 1991

  // Storage can be missing or throw (private browsing): the page still works, it just forgets.
  // `set` answers whether the value was kept.
  function store(kind) {
    var kept = {
      get: function (key) {
        try { return window[kind].getItem(key); } catch (e) { return null; }
      },
      set: function (key, value) {
        try { window[kind].setItem(key, value); return true; } catch (e) { return false; }
      },
      remove: function (key) {
        try { window[kind].removeItem(key); } catch (e) { /* nothing kept */ }
      },
      json: function (key, fallback) {
        try { return JSON.parse(kept.get(key)) || fallback; } catch (e) { return fallback; }
      }
    };
    return kept;
  }

  function newRequestId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // Times are shown in China time whatever the phone's zone, as the server stores and shows them.
  function chinaTime(ms) {
    var d = new Date(ms + CHINA_OFFSET_MS);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + chinaClock(ms);
  }

  function chinaClock(ms) {
    var d = new Date(ms + CHINA_OFFSET_MS);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  // One call of the JSON API, `headers` added to its own: {ok: true, status, data, date} or
  // {ok: false, status, error, network}. No answer at all is status 0 with `networkError`; a 5xx
  // counts as the network's fault too (the server is there but cannot serve).
  async function request(method, path, body, headers, networkError) {
    var sent = {"Accept": "application/json"};
    if (body !== undefined) {
      sent["Content-Type"] = "application/json";
    }
    Object.keys(headers || {}).forEach(function (name) { sent[name] = headers[name]; });
    var response;
    try {
      response = await fetch(path, {method: method, headers: sent, cache: "no-store", credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      return {ok: false, status: 0, network: true, error: networkError};
    }
    var payload = null;
    try {
      payload = await response.json();
    } catch (e) {
      payload = null;
    }
    if (response.ok && payload && "data" in payload) {
      return {ok: true, status: response.status, data: payload.data, date: response.headers.get("Date")};
    }
    var error = payload && payload.error;
    if (!error || !error.message) {
      error = {code: "http_" + response.status, field: null,
        message: response.status >= 500 ? "服务器繁忙，请稍后再试" : "请求失败（" + response.status + "）"};
    }
    return {ok: false, status: response.status, error: error, network: response.status >= 500};
  }

  // One call as this phone's signed-in user: `session.token()` answers the bearer token (signing in
  // when there is none) or, when that sign-in failed, its failed result, answered as it is. A 401
  // (an expired or revoked token) makes it `session.forget()` the token and try once more.
  async function signedRequest(method, path, body, session, networkError) {
    for (var attempt = 1; ; attempt++) {
      var token = await session.token();
      if (typeof token !== "string") {
        return token;
      }
      var result = await request(method, path, body, {Authorization: "Bearer " + token}, networkError);
      if (result.status !== 401 || attempt > 1) {
        return result;
      }
      session.forget();
    }
  }

  // Signs this phone in with the device key kept under `keyName` (none yet: the server gives it one);
  // answers the login's result. A key the server no longer knows is dropped, and the phone signs
  // in as a new one.
  async function deviceLogin(keyName, networkError) {
    var local = store("localStorage");
    var key = local.get(keyName);
    var login = "/api/v1/auth/device/login";
    var result = await request("POST", login, {device_key: key || null}, {}, networkError);
    if (!result.ok && key && result.error.code === "unknown_device") {
      local.remove(keyName);
      result = await request("POST", login, {device_key: null}, {}, networkError);
    }
    if (result.ok) {
      local.set(keyName, result.data.device_key);
    }
    return result;
  }

  // The session of this phone's user for signedRequest: its token kept under `tokenKey` in `storage`
  // (a store), signing in with the device key (deviceLogin) when there is none. A failed sign-in
  // is answered as its result.
  function deviceSession(storage, tokenKey, deviceKeyName, networkError) {
    return {
      token: async function () {
        var token = storage.get(tokenKey);
        if (token) {
          return token;
        }
        var login = await deviceLogin(deviceKeyName, networkError);
        if (!login.ok) {
          return login;
        }
        storage.set(tokenKey, login.data.token);
        return login.data.token;
      },
      forget: function () {
        storage.remove(tokenKey);
      }
    };
  }

  window.hcH5 = {store: store, newRequestId: newRequestId, chinaTime: chinaTime, chinaClock: chinaClock,
    request: request, signedRequest: signedRequest, deviceSession: deviceSession};
})();
