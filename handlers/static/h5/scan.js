/*
 * The H5 scan flow (C1-C6): everything after the server-rendered page, through the JSON API the
 * mini-programs use. No framework and no third-party code: the page must load fast on a cheap
 * phone at a gate, and the Content-Security-Policy allows only this file and common.js, which the
 * H5 pages share.
 *
 * Views: loading -> activation (blank code) | registration (active code) -> verdict -> back.
 * A quick check-in code (?quick=1, C7) checks in at once with the place's default flow: only a
 * first-time profile is asked. Its request id is kept in the history entry, so a reload answers
 * the first verdict again instead of registering twice (C8).
 * Server text is always set with textContent, never as HTML.
 */
(function () {
  "use strict";

  var app = document.getElementById("app");
  if (!app) {
    return; // the error page (unknown or revoked code) has nothing to drive
  }

  var TOKEN = app.getAttribute("data-token");
  // A door screen's code (N1, ?sc= in the URL it showed): sent with the scan, which checks it.
  var SCREEN_CODE = app.getAttribute("data-screen-code") || null;
  var DEVICE_KEY = "hc.h5.device_key"; // localStorage: this phone's identity, kept across visits
  var SESSION_TOKEN = "hc.h5.token"; // sessionStorage: the bearer token of this tab
  var PROFILE_FIELDS = ["name", "gender", "id_type", "id_number", "phone", "address", "building", "unit",
    "room", "resident_category"];
  var IDENTITY_FIELDS = ["name", "id_type", "id_number", "phone"];

  var state = {
    quick: app.getAttribute("data-quick") === "1", // a quick check-in, until its verdict is left
    info: null, // getPlaceByCode's answer
    flow: null, // the chosen flow
    who: "self", // "self" | "family:ID" | "proxy:ID" | "other"
    pending: null, // {key, id}: the last submission that got no answer, to retry with the same id
    audio: null,
    clockTimer: null,
    clockOffset: 0,
    leaveMember: null // N8: the family member the last admitted scan was for (null: the phone's owner)
  };
  // N8: the place counts who is inside: an admitted verdict offers to scan out (leavePlace).
  var COUNTING = app.getAttribute("data-counting") === "1";
  var h5 = window.hcH5; // common.js: what the H5 pages' scripts share
  var session = h5.store("sessionStorage");

  // --- small helpers --------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === true) {
        node.setAttribute(name, "");
      } else if (value !== false && value !== null && value !== undefined) {
        node.setAttribute(name, String(value));
      }
    });
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function show(node, visible) {
    if (node) {
      node.hidden = !visible;
    }
  }

  function chinaToday() {
    return h5.chinaTime(Date.now()).slice(0, 10);
  }

  function formatServerTime(iso) {
    var ms = Date.parse(iso);
    return isNaN(ms) ? String(iso || "") : h5.chinaTime(ms);
  }

  // --- the API --------------------------------------------------------------------------------

  var NETWORK_ERROR = {code: "network", message: "网络连接失败，请检查网络后重试", field: null};

  var device = h5.deviceSession(session, SESSION_TOKEN, DEVICE_KEY, NETWORK_ERROR);
  // A failed sign-in is answered as no answer (status 0), the network's fault only when it was.
  var account = {
    token: async function () {
      var token = await device.token();
      return typeof token === "string" ? token
        : {ok: false, status: 0, network: token.error.code === "network", error: token.error};
    },
    forget: device.forget
  };

  // One call as this phone's signed-in user: {ok, status, data, date} or {ok: false, status, error, network}.
  function api(method, path, body) {
    return h5.signedRequest(method, path, body, account, NETWORK_ERROR);
  }

  // --- messages and field errors --------------------------------------------------------------

  function clearMessages() {
    var top = $("top-error");
    top.textContent = "";
    top.className = "top-error";
    show(top, false);
    show($("top-notice"), false);
    document.querySelectorAll("[data-error-for]").forEach(function (node) {
      node.textContent = "";
      show(node, false);
    });
    document.querySelectorAll(".field.has-error").forEach(function (node) {
      node.classList.remove("has-error");
    });
  }

  function topError(message, strong) {
    var top = $("top-error");
    top.textContent = message;
    top.className = strong ? "top-error strong" : "top-error";
    show(top, true);
    top.scrollIntoView({block: "center"});
  }

  function notice(message) {
    var box = $("top-notice");
    box.textContent = message;
    show(box, true);
  }

  function errorSlot(key, root) {
    var found = null;
    (root || document).querySelectorAll("[data-error-for]").forEach(function (node) {
      // Only a slot the person can see: a hidden section's field cannot be fixed.
      if (!found && node.getAttribute("data-error-for") === key && node.parentElement.offsetParent !== null) {
        found = node;
      }
    });
    return found;
  }

  // Put `message` next to the field `key`; false when there is no visible slot for it.
  function fieldError(key, message, root) {
    var slot = key && errorSlot(key, root);
    if (!slot) {
      return false;
    }
    slot.textContent = message;
    show(slot, true);
    var field = slot.closest(".field");
    if (field) {
      field.classList.add("has-error");
    }
    return slot;
  }

  function focusFirstError() {
    var first = document.querySelector(".field.has-error, [data-error-for]:not([hidden])");
    if (first) {
      first.scrollIntoView({block: "center"});
      var input = first.closest(".field") && first.closest(".field").querySelector("input, select");
      if (input && input.type !== "radio" && input.type !== "checkbox") {
        input.focus({preventScroll: true});
      }
    }
  }

  // The API names fields as they were sent: "form.visited_name", "profile.id_number", or, from the
  // services, bare "id_number". Map them to the slot on screen.
  function slotKey(field, context) {
    if (!field) {
      return null;
    }
    if (/^(form|profile|identity)\./.test(field) || ["temperature", "flow", "profile"].indexOf(field) >= 0) {
      return field;
    }
    if (field === "member_id") {
      return "who";
    }
    if (PROFILE_FIELDS.indexOf(field) >= 0) {
      if (context.who === "other") {
        return "identity." + field;
      }
      return context.profileSent ? "profile." + field : null;
    }
    return null;
  }

  function showApiError(error, context, root) {
    if (error.code === "not_this_compound" || error.code === "place_full") {
      // The guard must see this from a step away (C5; 人数已满，请稍候, N8).
      topError(error.message, true);
      return;
    }
    var slot = fieldError(slotKey(error.field, context), error.message, root);
    if (slot) {
      slot.scrollIntoView({block: "center"});
    } else {
      topError(error.message, false);
    }
  }

  // --- generic forms from the field declarations (services/venues/place_types.FormField) --------------

  var PLACEHOLDERS = {
    phone: "请填写11位数字手机号",
    plate: "如 豫A12345",
    credit_code: "18位统一社会信用代码",
    region_code: "6位行政区划代码，如 420100"
  };

  function renderField(spec, prefix) {
    var key = prefix + "." + spec.name;
    var id = prefix + "-" + spec.name;
    var wrap = el(spec.kind === "bool" ? "fieldset" : "div", {"class": "field", "data-field": key});
    var caption = spec.kind === "bool" ? el("legend", {}, spec.label) : el("label", {"for": id}, spec.label);
    if (spec.required) {
      caption.appendChild(el("span", {"class": "req"}, "*"));
    } else {
      caption.appendChild(document.createTextNode("（选填）"));
    }
    wrap.appendChild(caption);
    var input;
    if (spec.kind === "bool") {
      var row = el("div", {"class": "radio-row"});
      [["true", "是"], ["false", "否"]].forEach(function (pair) {
        var label = el("label", {"class": "radio"});
        label.appendChild(el("input", {type: "radio", name: id, value: pair[0]}));
        label.appendChild(document.createTextNode(" " + pair[1]));
        row.appendChild(label);
      });
      wrap.appendChild(row);
    } else if (spec.kind === "choice") {
      input = el("select", {id: id, name: spec.name});
      input.appendChild(el("option", {value: ""}, "请选择"));
      (spec.choices || []).forEach(function (choice) {
        input.appendChild(el("option", {value: choice.value}, choice.label));
      });
    } else if (spec.kind === "date") {
      // A "today" date (a checkpoint's arrival, C4) is today's and nothing else: the server refuses
      // any other day, and says so next to the field.
      input = el("input", {id: id, name: spec.name, type: "date", max: chinaToday(),
        min: spec.today ? chinaToday() : null});
      if (spec.today) {
        input.value = chinaToday();
      }
    } else {
      var attrs = {id: id, name: spec.name, type: spec.kind === "phone" ? "tel" : "text", autocomplete: "off",
        placeholder: PLACEHOLDERS[spec.kind] || "请填写" + spec.label, maxlength: 128};
      if (spec.kind === "phone") {
        attrs.inputmode = "numeric";
        attrs.maxlength = 11;
      } else if (spec.kind === "region_code") {
        attrs.inputmode = "numeric";
        attrs.maxlength = 6;
      } else if (spec.kind === "plate" || spec.kind === "credit_code") {
        attrs.autocapitalize = "characters";
        attrs.maxlength = spec.kind === "plate" ? 8 : 18;
      }
      input = el("input", attrs);
    }
    if (input) {
      wrap.appendChild(input);
    }
    wrap.appendChild(el("p", {"class": "field-error", "data-error-for": key, hidden: true}));
    return wrap;
  }

  function renderFields(container, specs, prefix) {
    container.textContent = "";
    specs.forEach(function (spec) {
      container.appendChild(renderField(spec, prefix));
    });
  }

  // The answers of a rendered form, and the required ones left empty as {key: message}.
  function readFields(specs, prefix, missing) {
    var answers = {};
    specs.forEach(function (spec) {
      var id = prefix + "-" + spec.name;
      var value = null;
      if (spec.kind === "bool") {
        var picked = document.querySelector("input[name=\"" + id + "\"]:checked");
        value = picked ? picked.value === "true" : null;
      } else {
        var input = $(id);
        value = input && input.value.trim() !== "" ? input.value.trim() : null;
      }
      if (value === null && spec.required) {
        var verb = spec.kind === "bool" || spec.kind === "choice" ? "请选择" : "请填写";
        missing[prefix + "." + spec.name] = verb + spec.label;
      }
      answers[spec.name] = value;
    });
    return answers;
  }

  // --- activation (blank pre-generated codes, B3) --------------------------------------------

  function renderActivation(info) {
    $("place-name").textContent = info.type_label + "场所码";
    $("place-type").textContent = info.type_label;
    $("place-address").textContent = "";
    renderFields($("activation-fields"), info.activation_form || [], "form");
    show($("activation"), true);
  }

  async function submitActivation(event) {
    event.preventDefault();
    clearMessages();
    var missing = {};
    var form = readFields(state.info.activation_form || [], "form", missing);
    if (Object.keys(missing).length) {
      Object.keys(missing).forEach(function (key) { fieldError(key, missing[key], $("activation")); });
      focusFirstError();
      return;
    }
    var button = $("activation-submit");
    button.disabled = true;
    button.textContent = "正在激活…";
    var result = await api("POST", "/api/v1/place-codes/" + encodeURIComponent(TOKEN) + "/activate", {form: form});
    button.disabled = false;
    button.textContent = "激活";
    if (!result.ok) {
      showApiError(result.error, {}, $("activation"));
      return;
    }
    notice("激活成功，正在进入场所页面…");
    window.location.reload();
  }

  // --- the place page (active codes) ---------------------------------------------------------

  function renderPlace(info, keepFlow) {
    var place = info.place || {};
    $("place-name").textContent = place.name || "";
    $("place-type").textContent = place.type_label || "";
    $("place-address").textContent = place.address || "";
    document.title = (place.name ? place.name + " - " : "") + "健康扫码登记";
    var compound = info.type && info.type.category === "compound";
    document.querySelectorAll("[data-compound-only]").forEach(function (node) { show(node, compound); });

    renderProxies(info.proxy_identities || []);
    var flows = info.flows || [];
    var chosen = keepFlow && flows.filter(function (f) { return f.code === keepFlow; })[0];
    state.flow = chosen || (flows.length === 1 ? flows[0] : null);
    var buttons = $("flow-buttons");
    buttons.textContent = "";
    flows.forEach(function (flow) {
      var button = el("button", {type: "button", "class": "btn flow", "data-flow": flow.code}, flow.label);
      button.addEventListener("click", function () { chooseFlow(flow); });
      buttons.appendChild(button);
    });
    renderWho(info);
    resetInputs();
    refreshSections();
    show($("registration"), true);
    if (state.quick) {
      startQuick(info);
    }
  }

  function renderProxies(proxies) {
    var list = $("proxy-list");
    list.textContent = "";
    proxies.forEach(function (person) {
      var row = el("tr", {"data-proxy": person.id});
      row.appendChild(el("td", {}, person.name));
      row.appendChild(el("td", {"class": "mono"}, person.id_number));
      var actions = el("td", {"class": "actions"});
      var use = el("button", {type: "button", "class": "btn small primary", "data-action": "use"}, "此身份登记");
      use.addEventListener("click", function () { useProxy(person); });
      var remove = el("button", {type: "button", "class": "btn small danger", "data-action": "delete"}, "删除");
      remove.addEventListener("click", function () { deleteProxy(person, remove); });
      actions.appendChild(use);
      actions.appendChild(remove);
      row.appendChild(actions);
      list.appendChild(row);
    });
    show($("proxy-section"), proxies.length > 0);
  }

  function whoOption(value, label) {
    var option = el("label", {"class": "radio block-radio"});
    var input = el("input", {type: "radio", name: "who", value: value});
    input.checked = state.who === value;
    input.addEventListener("change", function () {
      state.who = value;
      refreshSections();
    });
    option.appendChild(input);
    option.appendChild(document.createTextNode(" " + label));
    return option;
  }

  function renderWho(info) {
    var known = ["self", "other"];
    var box = $("who-options");
    box.textContent = "";
    box.appendChild(whoOption("self", "本人"));
    (info.family || []).forEach(function (member) {
      var relation = member.relationship_label ? "（" + member.relationship_label + "）" : "";
      known.push("family:" + member.id);
      box.appendChild(whoOption("family:" + member.id, "为家人登记：" + member.name + relation));
    });
    (info.proxy_identities || []).forEach(function (person) {
      known.push("proxy:" + person.id);
      box.appendChild(whoOption("proxy:" + person.id, "代登记：" + person.name + "（" + person.id_number + "）"));
    });
    box.appendChild(whoOption("other", "为他人登记"));
    if (known.indexOf(state.who) < 0) {
      state.who = "self";
      box.querySelector("input[value=\"self\"]").checked = true;
    }
  }

  function setWho(value) {
    state.who = value;
    document.querySelectorAll("input[name=\"who\"]").forEach(function (input) {
      input.checked = input.value === value;
    });
    refreshSections();
  }

  function chooseFlow(flow) {
    state.flow = flow;
    clearMessages();
    refreshSections();
  }

  function flowFormShown() {
    var flow = state.flow;
    if (state.quick || !flow || !flow.form || !flow.form.length) {
      return false;
    }
    // The server knows whether *I* filled this flow's form before; for someone else, ask it.
    return state.who !== "self" || flow.form_needed;
  }

  function refreshSections() {
    var info = state.info;
    document.querySelectorAll("#flow-buttons .flow").forEach(function (button) {
      var on = state.flow && button.getAttribute("data-flow") === state.flow.code;
      button.classList.toggle("selected", !!on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    show($("profile-section"), state.who === "self" && !!info.needs_profile);
    show($("identity-section"), state.who === "other");
    var formShown = flowFormShown();
    var container = $("flow-fields");
    if (formShown && container.getAttribute("data-flow") !== state.flow.code) {
      renderFields(container, state.flow.form, "form");
      container.setAttribute("data-flow", state.flow.code);
      $("flow-form-title").textContent = state.flow.label + " · 登记信息";
    }
    show($("flow-form-section"), formShown);
    quickLayout();
  }

  // A quick check-in shows no flow, no one else to register, no temperature: at most the profile.
  function quickLayout() {
    var on = state.quick;
    var profile = !!(state.info && state.info.needs_profile);
    show($("flow-card"), !on);
    show($("who-card"), !on);
    show($("temperature-field"), !on);
    show($("commitment-box"), !on || profile);
    show($("quick-banner"), on);
    if (on) {
      show($("proxy-section"), false);
      show($("identity-section"), false);
    }
    $("scan-submit").textContent = submitLabel();
  }

  function submitLabel() {
    return state.quick ? "提交并快速打卡" : "提交";
  }

  // The quick check-in's request id, kept in this history entry (see the top of this file).
  function quickRequestId() {
    var kept = history.state && history.state.quick;
    if (kept) {
      return kept;
    }
    var id = h5.newRequestId();
    history.replaceState({quick: id}, "", window.location.href);
    return id;
  }

  function startQuick(info) {
    var offer = info.quick_checkin || {offered: false};
    if (!offer.offered) {
      // A checkpoint: its form is the point of the scan. The ordinary page stays, with the reason.
      state.quick = false;
      refreshSections();
      topError(offer.message || "该场所不提供体温正常快速打卡", false);
      return;
    }
    if (info.needs_profile) {
      notice("首次使用请填写个人信息（只需填写一次），提交后即完成快速打卡");
      return;
    }
    sendScan();
  }

  function resetInputs() {
    $("scan-form").querySelectorAll("input[type=text], input[type=tel], input[type=number], input[type=date]")
      .forEach(function (input) { input.value = ""; });
    $("scan-form").querySelectorAll("#profile-section input[type=radio], #flow-fields input[type=radio]")
      .forEach(function (input) { input.checked = false; });
    $("scan-form").querySelectorAll("#profile-section select, #identity-section select").forEach(function (select) {
      select.selectedIndex = 0;
    });
    $("commitment").checked = false;
    $("flow-fields").removeAttribute("data-flow");
  }

  function useProxy(person) {
    clearMessages();
    setWho("proxy:" + person.id);
    notice("已选择 " + person.name + " 登记，请选择登记方式并提交");
    $("commitment").scrollIntoView({block: "center"});
  }

  async function deleteProxy(person, button) {
    clearMessages();
    button.disabled = true;
    var result = await api("DELETE", "/api/v1/me/proxy-identities/" + encodeURIComponent(person.id));
    button.disabled = false;
    if (!result.ok) {
      topError(result.error.message, false);
      return;
    }
    if (state.who === "proxy:" + person.id) {
      state.who = "self";
    }
    await reloadInfo(true);
    notice("已删除 " + person.name + " 的登记信息");
  }

  // --- the scan -------------------------------------------------------------------------------

  function readProfile(missing) {
    var profile = {};
    PROFILE_FIELDS.forEach(function (name) {
      var value;
      if (name === "gender") {
        var picked = document.querySelector("#profile-section input[name=\"gender\"]:checked");
        value = picked ? picked.value : "";
      } else {
        value = $("profile-" + name).value.trim();
      }
      if (value) {
        profile[name] = name === "id_number" ? value.toUpperCase() : value;
      }
    });
    var compound = state.info.type && state.info.type.category === "compound";
    var required = {name: "请填写姓名", id_number: "请填写证件号码", phone: "请填写手机号", address: "请填写现住地址"};
    if (compound) {
      required.building = "请填写楼号";
      required.room = "请填写房间号";
    }
    Object.keys(required).forEach(function (name) {
      if (!profile[name]) {
        missing["profile." + name] = required[name];
      }
    });
    return profile;
  }

  function readIdentity(missing) {
    var person = {};
    IDENTITY_FIELDS.forEach(function (name) {
      var value = $("identity-" + name).value.trim();
      if (value) {
        person[name] = name === "id_number" ? value.toUpperCase() : value;
      }
    });
    if (!person.name) {
      missing["identity.name"] = "请填写姓名";
    }
    if (!person.id_number) {
      missing["identity.id_number"] = "请填写证件号码";
    }
    return person;
  }

  function buildQuickScan(missing) {
    var body = {code: TOKEN, quick_checkin: true};
    if (SCREEN_CODE) {
      body.screen_code = SCREEN_CODE;
    }
    var context = {who: "self", profileSent: false};
    if (state.info.needs_profile) {
      body.profile = readProfile(missing);
      context.profileSent = true;
      if (!$("commitment").checked) {
        missing.commitment = "请阅读并勾选《承诺书》";
      }
    }
    return {body: body, context: context};
  }

  function buildScan(missing) {
    if (state.quick) {
      return buildQuickScan(missing);
    }
    var body = {code: TOKEN, flow: state.flow ? state.flow.code : null};
    if (SCREEN_CODE) {
      body.screen_code = SCREEN_CODE;
    }
    var context = {who: state.who, profileSent: false};
    if (!state.flow) {
      missing.flow = "请选择登记方式";
    }
    if (state.who === "self") {
      if (state.info.needs_profile) {
        body.profile = readProfile(missing);
        context.profileSent = true;
      }
    } else if (state.who === "other") {
      body.identity = readIdentity(missing);
    } else {
      var parts = state.who.split(":");
      body[parts[0] === "family" ? "member_id" : "proxy_identity_id"] = parseInt(parts[1], 10);
    }
    if (flowFormShown()) {
      body.form = readFields(state.flow.form, "form", missing);
    }
    var temperature = $("temperature").value.trim();
    if (temperature !== "") {
      var degrees = Number(temperature);
      if (!isFinite(degrees)) {
        missing.temperature = "请填写正确的体温，如 36.5";
      } else {
        body.temperature = degrees;
      }
    } else if ($("temperature").validity && $("temperature").validity.badInput) {
      missing.temperature = "请填写正确的体温，如 36.5";
    }
    if (!$("commitment").checked) {
      missing.commitment = "请阅读并勾选《承诺书》";
    }
    return {body: body, context: context};
  }

  async function submitScan(event) {
    event.preventDefault();
    unlockAudio(); // inside the tap: browsers only let a page make sound after a gesture
    await sendScan();
  }

  async function sendScan() {
    clearMessages();
    var missing = {};
    var scan = buildScan(missing);
    var keys = Object.keys(missing);
    if (keys.length) {
      keys.forEach(function (key) {
        if (!fieldError(key, missing[key], $("scan-form"))) {
          topError(missing[key], false);
        }
      });
      focusFirstError();
      return;
    }
    // The very same submission retried after a lost answer keeps its request id, so the server
    // answers the first verdict instead of counting a second entry (C8).
    var fingerprint = JSON.stringify(scan.body);
    if (state.quick) {
      state.pending = {key: fingerprint, id: quickRequestId()};
    } else if (!state.pending || state.pending.key !== fingerprint) {
      state.pending = {key: fingerprint, id: h5.newRequestId()};
    }
    scan.body.request_id = state.pending.id;
    var button = $("scan-submit");
    button.disabled = true;
    button.textContent = "提交中…";
    var result = await api("POST", "/api/v1/scans", scan.body);
    button.disabled = false;
    button.textContent = submitLabel();
    if (!result.ok && result.network) {
      topError(result.error.message + "（重新提交不会重复登记）", false);
      return;
    }
    state.pending = null;
    if (!result.ok) {
      showApiError(result.error, scan.context, $("scan-form"));
      return;
    }
    state.leaveMember = scan.body.member_id === undefined ? null : scan.body.member_id;
    showVerdict(result.data, result.date);
  }

  // --- the verdict (C6) -----------------------------------------------------------------------

  function unlockAudio() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!state.audio && Context) {
        state.audio = new Context();
      }
      if (state.audio && state.audio.state === "suspended") {
        state.audio.resume();
      }
    } catch (e) {
      state.audio = null; // no sound on this phone; the flashing block still shows
    }
  }

  // Three short square-wave beeps: loud enough for a noisy gate, no audio file to fetch.
  function beep() {
    unlockAudio();
    var context = state.audio;
    if (!context) {
      return;
    }
    var start = context.currentTime + 0.05;
    for (var i = 0; i < 3; i += 1) {
      var oscillator = context.createOscillator();
      var gain = context.createGain();
      var at = start + i * 0.45;
      oscillator.type = "square";
      oscillator.frequency.setValueAtTime(880, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      oscillator.connect(gain);
      gain.connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.32);
    }
    window.__alertPlayed = true; // read by the browser tests
    if (navigator.vibrate) {
      navigator.vibrate([300, 150, 300, 150, 300]);
    }
  }

  function fillList(box, list, items) {
    list.textContent = "";
    (items || []).forEach(function (item) { list.appendChild(el("li", {}, item)); });
    show(box, !!(items && items.length));
  }

  function tick() {
    var now = Date.now() + state.clockOffset;
    $("verdict-clock").textContent = h5.chinaTime(now);
    // Re-aim at the next whole second, so the clock never drifts behind the seconds it shows.
    state.clockTimer = window.setTimeout(tick, 1000 - (now % 1000) + 5);
  }

  function stopClock() {
    if (state.clockTimer) {
      window.clearTimeout(state.clockTimer);
      state.clockTimer = null;
    }
  }

  function showVerdict(verdict, dateHeader) {
    var colour = ["green", "yellow", "orange", "red"].indexOf(verdict.colour) >= 0 ? verdict.colour : "unknown";
    var alert = verdict.alert;
    var block = $("verdict-block");
    block.className = "verdict-block colour-" + colour + (alert && alert.flash ? " flash" : "");
    $("verdict-colour").textContent = verdict.colour_label || "未知";
    var admit = $("verdict-admit");
    admit.textContent = verdict.admit_label || (verdict.admit ? "允许通行" : "禁止通行");
    admit.className = "verdict-admit " + (verdict.admit ? "admitted" : "refused");
    $("verdict-alert").textContent = alert ? alert.message || "" : "";
    show($("verdict-alert"), !!(alert && alert.message));
    $("verdict-name").textContent = verdict.name_masked || "";
    $("verdict-id").textContent = verdict.id_masked || "";
    $("verdict-place").textContent = (verdict.place && verdict.place.name) || "";
    $("verdict-flow").textContent = verdict.flow_label || "";
    $("verdict-temperature").textContent = verdict.temperature_label || "";
    show($("verdict-temperature-row"), !!verdict.temperature_label);
    $("verdict-registered").textContent = formatServerTime(verdict.registered_at);
    fillList($("verdict-reasons-box"), $("verdict-reasons"), verdict.reasons);
    fillList($("verdict-guidance-box"), $("verdict-guidance"), verdict.guidance);
    show($("verdict-leave"), COUNTING && verdict.admit && (verdict.source === "self" ||
      (verdict.source === "family" && state.leaveMember !== null)));
    show($("verdict-left"), false);

    // The live clock runs on the server's time (its Date header), not the phone's, so a phone
    // with a wrong clock still shows the guard matching times. A Date header is whole seconds.
    var server = Date.parse(dateHeader || "");
    state.clockOffset = isNaN(server) ? 0 : server + 500 - Date.now();
    stopClock();
    tick();

    show($("registration"), false);
    show($("activation"), false);
    show($("place-card"), false);
    show($("verdict"), true);
    window.scrollTo(0, 0);
    if (!history.state || history.state.view !== "verdict") {
      var quick = history.state && history.state.quick;
      history.pushState(quick ? {view: "verdict", quick: quick} : {view: "verdict"}, "", window.location.href);
    }
    if (alert && alert.sound) {
      beep();
    }
  }

  function leaveVerdict() {
    stopClock();
    state.quick = false; // checked in: back on the page is the ordinary registration
    state.who = "self"; // a registration for someone else is not carried into the next one
    show($("verdict"), false);
    show($("place-card"), true);
    clearMessages();
    reloadInfo(true);
  }

  // --- loading --------------------------------------------------------------------------------

  async function reloadInfo(keepFlow) {
    var flow = keepFlow && state.flow ? state.flow.code : null;
    var result = await api("GET", "/api/v1/places/by-code/" + encodeURIComponent(TOKEN));
    show($("loading"), false);
    if (!result.ok) {
      show($("registration"), false);
      show($("activation"), false);
      topError((result.error && result.error.message) || "加载失败，请刷新页面重试", false);
      return;
    }
    state.info = result.data;
    if (state.info.status === "blank") {
      renderActivation(state.info);
    } else {
      renderPlace(state.info, flow);
    }
  }

  $("activation-form").addEventListener("submit", submitActivation);
  $("scan-form").addEventListener("submit", submitScan);
  async function leavePlace() {
    var button = $("verdict-leave");
    button.disabled = true;
    var body = {code: TOKEN};
    if (state.leaveMember !== null) {
      body.member_id = state.leaveMember;
    }
    var result = await api("POST", "/api/v1/scans/leave", body);
    button.disabled = false;
    var note = $("verdict-left");
    note.textContent = result.ok ? "已离场登记，谢谢配合" : result.error.message;
    note.className = result.ok ? "top-notice" : "top-error";
    show(note, true);
    if (result.ok || result.error.code === "not_inside") {
      show(button, false); // left (or not counted in): nothing more to leave
    }
  }

  $("verdict-leave").addEventListener("click", leavePlace);
  $("verdict-back").addEventListener("click", function () {
    if (history.state && history.state.view === "verdict") {
      history.back(); // popstate below brings the place page back
    } else {
      leaveVerdict();
    }
  });
  window.addEventListener("popstate", function () {
    if (!$("verdict").hidden) {
      leaveVerdict();
    }
  });
  if (history.state && history.state.view === "verdict") {
    // A reload on the verdict starts on the place page: the verdict entry means nothing now,
    // but a quick check-in's request id is kept, so it answers its first verdict again.
    history.replaceState(history.state.quick ? {quick: history.state.quick} : null, "", window.location.href);
  }
  reloadInfo(false);
}());
