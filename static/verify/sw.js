// Service worker for /verify (served by certify/views.py at /verify/sw.js,
// which prepends self.DIVOC_SW_CONFIG = {version, page, assets, data}).
//
// - install: precache the page, its CSS/JS/WASM and the trust document and
//   revocation list;
// - the trust document and revocation list: network first (with a timeout),
//   falling back to the cached copy: every online visit refreshes them.  Only
//   full documents are cached: an incremental list (?since=SERIAL) goes to the
//   network, and offline it is answered with the cached full list (the page
//   checks signatures and serials, and keeps its own merged copy);
// - the page: network first too (fresh translations and markup online);
// - versioned static assets: cache first.
'use strict';

var CONFIG = self.DIVOC_SW_CONFIG;
var PREFIX = 'divoc-verify-';
var STATIC_CACHE = CONFIG ? PREFIX + 'static-' + CONFIG.version : null;
var DATA_CACHE = PREFIX + 'data';
var NETWORK_TIMEOUT_MS = 5000;

function sameOriginPath(url) {
  var u = new URL(url, self.location.href);
  return u.origin === self.location.origin ? u.pathname + u.search : null;
}

function fetchFresh(request) {
  // Bypass the HTTP cache: the revocation list must be the server's current one.
  return fetch(request, {cache: 'no-cache'});
}

function putIfOk(cacheName, key, response) {
  if (!response || !response.ok) return Promise.resolve(response);
  var copy = response.clone();
  return caches.open(cacheName).then(function (cache) { return cache.put(key, copy); }).then(function () {
    return response;
  });
}

// A copy of a response with extra headers (the page reads them).
function withHeaders(response, extra) {
  var headers = new Headers(response.headers);
  Object.keys(extra).forEach(function (k) { headers.set(k, extra[k]); });
  return response.blob().then(function (body) {
    return new Response(body, {status: response.status, statusText: response.statusText, headers: headers});
  });
}

// Data responses remember when the server last confirmed them (a 304 revalidation
// hands back the old body, whose thisUpdate is old).
function stamped(response) {
  if (!response.ok) return Promise.resolve(response);
  return withHeaders(response, {'X-Divoc-Fetched-At': new Date().toISOString()});
}

self.addEventListener('install', function (event) {
  if (!CONFIG) return;
  event.waitUntil(
    caches.open(STATIC_CACHE).then(function (cache) {
      return cache.addAll(CONFIG.assets.concat([CONFIG.page]).map(function (url) {
        return new Request(url, {cache: 'reload'});
      }));
    }).then(function () {
      // Data is refreshed on every visit; a failure here must not block install.
      return Promise.all(CONFIG.data.map(function (url) {
        return fetchFresh(new Request(url)).then(stamped).then(function (r) { return putIfOk(DATA_CACHE, url, r); })
          .catch(function () { /* offline during install: the page fetches it later */ });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf(PREFIX + 'static-') === 0 && n !== STATIC_CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function withTimeout(promise, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error('timeout')); }, ms);
    promise.then(function (v) { clearTimeout(timer); resolve(v); }, function (e) { clearTimeout(timer); reject(e); });
  });
}

// Network first; on failure (offline, timeout, 5xx) the cached copy, marked
// X-Divoc-Source: cache.
function networkFirst(request, cacheName, key, stamp, store) {
  var network = fetchFresh(request).then(function (response) {
    if (response.status >= 500) throw new Error('HTTP ' + response.status);
    return stamp ? stamped(response) : response;
  }).then(function (response) {
    return store === false ? response : putIfOk(cacheName, key, response);
  });
  return withTimeout(network, NETWORK_TIMEOUT_MS).catch(function (err) {
    return caches.open(cacheName).then(function (cache) {
      return cache.match(key).then(function (hit) {
        return hit || cache.match(key, {ignoreSearch: true});
      });
    }).then(function (hit) {
      if (hit) return withHeaders(hit, {'X-Divoc-Source': 'cache'});
      // The network may just be slow: wait for it after all.
      return network.catch(function () { throw err; });
    });
  });
}

function cacheFirst(request) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      return hit || cache.match(request, {ignoreSearch: true});
    }).then(function (hit) {
      return hit || fetch(request);
    });
  });
}

self.addEventListener('fetch', function (event) {
  if (!CONFIG) return;
  var request = event.request;
  if (request.method !== 'GET') return;
  var path = sameOriginPath(request.url);
  if (path === null) return;
  var pathname = path.split('?')[0];

  if (CONFIG.data.indexOf(pathname) !== -1) {
    // cache full documents only (a ?since= delta must not replace the full list)
    event.respondWith(networkFirst(request, DATA_CACHE, pathname, true, path === pathname));
  } else if (pathname === CONFIG.page && request.mode === 'navigate') {
    event.respondWith(networkFirst(request, STATIC_CACHE, path, false).catch(function () {
      return caches.open(STATIC_CACHE).then(function (cache) { return cache.match(CONFIG.page); });
    }));
  } else if (CONFIG.assets.some(function (a) { return a.split('?')[0] === pathname; })) {
    event.respondWith(cacheFirst(request));
  }
});
