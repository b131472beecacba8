/*
 * The inspector page's service worker (N7): keeps the page, its files, the QR decoder and the
 * offline verification list (public keys + revoked paper codes), so that the page opens and
 * verifies codes with no network. Rendered by handlers/h5.py with the exact versioned files.
 *
 * - the page: network first (it may change), the kept copy when offline or on a 5xx;
 * - its files: kept at install, answered from the cache (their URLs carry a content hash);
 * - the verification list: network first, every good answer kept, the kept one when offline
 *   or on a 5xx;
 * - everything else (the API's writes above all) goes to the network untouched.
 */
"use strict";

// The page's files and common.js, which every H5 page loads first (their versions name the cache).
var CACHE = "hc-inspect-{{ version }}";
var SHELL = {% raw shell %};
var PAGE = {% raw page %};
var LIST = "/api/v1/health-codes/offline-list";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      // Older releases' files go; the list is carried over so an upgrade made offline keeps it.
      return name.indexOf("hc-inspect-") === 0 && name !== CACHE && name !== "hc-inspect-list";
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () {
    return self.clients.claim();
  }));
});

function kept(cacheName, key) {
  return caches.open(cacheName).then(function (cache) {
    return cache.match(key, {ignoreVary: true});
  });
}

// A 5xx (the server is up but its database is not, or it sheds load) counts as no network:
// the inspector keeps verifying with what was kept (N7).
function networkFirst(request, cacheName, key) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(cacheName).then(function (cache) { return cache.put(key, copy); });
      return response;
    }
    if (response.status >= 500) {
      return kept(cacheName, key).then(function (copy) { return copy || response; });
    }
    return response;
  }).catch(function () {
    return kept(cacheName, key).then(function (copy) { return copy || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname === LIST) {
    // One kept list whoever asked: the keys and ids in it are the same for every inspector.
    event.respondWith(networkFirst(request, "hc-inspect-list", LIST));
  } else if (url.pathname === PAGE && request.mode === "navigate") {
    event.respondWith(networkFirst(request, CACHE, PAGE));
  } else if (SHELL.indexOf(url.pathname + url.search) >= 0) {
    event.respondWith(caches.match(request, {ignoreVary: true}).then(function (kept) {
      return kept || fetch(request);
    }));
  }
});
