// The /verify page: camera scanning, image upload, offline trust and
// revocation data, and the result panel.  Verification itself is
// DivocVerifier (static/vendor/divoc-verifier.js), for DIVOC certificates, EU
// DCCs and SMART Health Cards; nothing scanned leaves the device, except a
// health card of our own, sent to our server (when online) to learn whether
// its doses were revoked.  Strings come translated from the template (#verify-i18n).
(function () {
  'use strict';

  var root = document.querySelector('.verify');
  if (!root) return;
  var V = window.DivocVerifier;
  var T = JSON.parse(document.getElementById('verify-i18n').textContent);
  var lang = root.lang || document.documentElement.lang || 'en';
  var cfg = root.dataset;
  var SCAN_TIMEOUT = Math.max(5, parseInt(cfg.scanTimeout, 10) || 30);
  var STORE = 'divoc-verify:';

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    start: $('scan-start'), scanner: $('scanner'), video: $('scan-video'), scanStatus: $('scan-status'),
    stop: $('scan-stop'), timeout: $('scan-timeout'), timeoutText: $('scan-timeout-text'), retry: $('scan-retry'),
    cameraError: $('camera-error'), upload: $('qr-upload'), busy: $('verify-busy'), result: $('verify-result'),
    syncText: $('sync-text'), sync: $('sync-status'), tpl: $('verify-result-template'),
    listWarning: $('list-warning'),
  };
  var state = {trust: null, revocations: null, listCached: false, listRejected: null, stream: null, scanning: false, deadline: 0, lastSecond: -1};

  function fill(text, vars) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m;
    });
  }

  // ---------------------------------------------------------------- dates
  function formatDate(value, withTime) {
    if (!value) return '';
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    var opts = withTime ? {dateStyle: 'medium', timeStyle: 'short'} : {dateStyle: 'medium'};
    var date;
    if (m) {
      date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
      opts.timeZone = 'UTC';
    } else {
      date = new Date(value);
    }
    if (isNaN(date.getTime())) return value;
    try {
      return new Intl.DateTimeFormat(lang, opts).format(date);
    } catch (e) {
      return value;
    }
  }

  function timeAgo(iso) {
    var then = Date.parse(iso);
    if (!isFinite(then)) return '';
    var seconds = Math.round((Date.now() - then) / 1000);
    if (seconds < 45) return T.just_now;
    var units = [['day', 86400], ['hour', 3600], ['minute', 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1] || units[i][0] === 'minute') {
        var n = Math.max(1, Math.round(seconds / units[i][1]));
        try {
          return new Intl.RelativeTimeFormat(lang, {numeric: 'auto'}).format(-n, units[i][0]);
        } catch (e) {
          return n + ' ' + units[i][0] + (n === 1 ? '' : 's') + ' ago';
        }
      }
    }
    return '';
  }

  // ------------------------------------------------- trust + revocation list
  function remember(key, value) {
    try { localStorage.setItem(STORE + key, JSON.stringify(value)); } catch (e) { /* private mode, full */ }
  }

  function recall(key) {
    try { return JSON.parse(localStorage.getItem(STORE + key) || 'null'); } catch (e) { return null; }
  }

  try { localStorage.removeItem(STORE + 'revocations'); } catch (e) { /* the unchecked copy of older versions */ }

  // -> {doc, fetchedAt, cached}; rejects when there is no response.  Goes
  // through the service worker: network first, its cache when offline (it
  // marks those X-Divoc-Source: cache and stamps X-Divoc-Fetched-At when the
  // server last confirmed the document).
  function fetchDoc(url) {
    return fetch(url, {cache: 'no-cache', credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      var fetchedAt = r.headers.get('X-Divoc-Fetched-At') || new Date().toISOString();
      var cached = r.headers.get('X-Divoc-Source') === 'cache';
      return r.json().then(function (doc) { return {doc: doc, fetchedAt: fetchedAt, cached: cached}; });
    });
  }

  function loadTrust() {
    return fetchDoc(cfg.trustUrl).then(function (got) {
      remember('trust', {doc: got.doc, fetchedAt: got.fetchedAt});
      return got.doc;
    }).catch(function () {
      var saved = recall('trust'); // no service worker (or nothing cached): the last copy we saw
      return saved && saved.doc ? saved.doc : null;
    });
  }

  // The list as of when the server last confirmed it: a 304 revalidation keeps
  // the old body, so thisUpdate/nextUpdate move with the confirmation time.
  function effectiveList(list, fetchedAt) {
    var confirmed = Date.parse(fetchedAt);
    var issued = Date.parse(list.thisUpdate);
    var next = Date.parse(list.nextUpdate);
    if (!isFinite(confirmed) || !isFinite(issued) || confirmed <= issued) return list;
    var copy = Object.assign({}, list, {thisUpdate: new Date(confirmed).toISOString()});
    if (isFinite(next)) copy.nextUpdate = new Date(confirmed + Math.max(0, next - issued)).toISOString();
    return copy;
  }

  // The revocation list: the local copy (LIST_KEY) is built only from lists
  // whose signature checked out against the trust document.  After the first
  // full list the page asks for ?since=SERIAL and merges the changes.  A list
  // that fails its check is never used: the previous good copy stays.
  var LIST_KEY = 'revocations-v2';

  function localList() {
    if (state.revocations) return state.revocations;
    var saved = recall(LIST_KEY);
    return saved && saved.list && Array.isArray(saved.list.entries) ? saved.list : null;
  }

  function listUrl(base) {
    if (!base || typeof base.serial !== 'number') return cfg.revocationUrl;
    return cfg.revocationUrl + (cfg.revocationUrl.indexOf('?') < 0 ? '?' : '&') + 'since=' + encodeURIComponent(base.serial);
  }

  function syncList(trust, base, full) {
    return fetchDoc(full ? cfg.revocationUrl : listUrl(base)).then(function (got) {
      return V.verifyRevocationList(got.doc, trust).then(function (check) {
        if (!check.ok) {
          state.listRejected = check; // keep the previous good copy (base) and say so
          state.listCached = got.cached;
          return base;
        }
        state.listRejected = null;
        var fullList = got.doc.since === null || got.doc.since === undefined;
        // A full list straight from the server is authoritative; a cached one only if newer.
        var merged = V.mergeRevocations(fullList && !got.cached ? null : base, got.doc);
        if (merged.applied === 'gap') {
          if (!full && !got.cached) return syncList(trust, base, true);
          state.listCached = true;
          return base;
        }
        state.listCached = got.cached;
        if (merged.applied === 'stale') return base;
        if (got.cached && base && merged.list.serial <= base.serial) return base; // nothing newer offline
        var list = effectiveList(merged.list, got.fetchedAt);
        remember(LIST_KEY, {list: list});
        return list;
      });
    }).catch(function () {
      state.listCached = true; // offline, and no cached copy in the service worker
      return base;
    });
  }

  function sync() {
    return loadTrust().then(function (trust) {
      if (trust) state.trust = trust;
      var base = localList();
      if (!state.trust) return base;
      return syncList(state.trust, base, false);
    }).then(function (list) {
      state.revocations = list || null;
      showSync();
    });
  }

  function showSync() {
    var list = state.revocations;
    var offline = navigator.onLine === false || !!state.listCached;
    els.sync.classList.toggle('sync-status--offline', offline);
    els.sync.classList.toggle('sync-status--missing', !list);
    els.sync.classList.toggle('sync-status--rejected', !!state.listRejected);
    els.listWarning.hidden = !state.listRejected;
    root.toggleAttribute('data-list-rejected', !!state.listRejected);
    if (!list || !list.thisUpdate) {
      els.syncText.textContent = state.trust ? T.sync.never : T.reasons.trust_missing;
      return;
    }
    els.syncText.textContent = fill(offline ? T.sync.offline : T.sync.updated, {ago: timeAgo(list.thisUpdate)});
  }

  // Record the outcome (status, reason code, certificate id; nothing else) for
  // the issuer's statistics.  Fire and forget: offline, or if it fails, nothing.
  function report(result) {
    if (!cfg.eventsUrl || navigator.onLine === false || !window.fetch || result.serverChecked) return;
    try {
      var status = result.status in T.status ? result.status : 'invalid';
      var format = result.format in T.formats ? result.format : 'divoc';
      var first = (result.reasons || [])[0];
      var code = first && /^[a-z0-9_]{1,100}$/.test(first.code || '') ? first.code : (status === 'valid' ? '' : 'error');
      // our certificate's id: a DIVOC credential's own, the one in our EU certificate's UVCI; none for a health card
      var id = format === 'divoc' ? result.certificate && result.certificate.certificateId : result.certificateRef;
      fetch(cfg.eventsUrl, {
        method: 'POST', credentials: 'same-origin', keepalive: true, cache: 'no-store',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({status: status, format: format, certificateId: id ? String(id).slice(0, 40) : null, reason: code}),
      }).catch(function () { /* statistics only */ });
    } catch (e) { /* never break verification */ }
  }

  // A health card we issued names no certificate id, so only the server can say
  // whether its doses were revoked since: online, ask it (it records the check);
  // offline, say that this was not checked.
  var SERVER_REASON = /^(revoked|suspended)(?: at (\S+))?(?: until (\S+))?(?:: (.*))?$/;

  function serverStatus(result) {
    if (result.format !== 'shc' || !result.own || result.status !== 'valid') return Promise.resolve(result);
    var unchecked = function () {
      return Object.assign({}, result, {warnings: (result.warnings || []).concat(
        [{code: 'status_unchecked', message: 'revocation was not checked'}])});
    };
    if (!cfg.verifyUrl || navigator.onLine === false || !window.fetch) return Promise.resolve(unchecked());
    return fetch(cfg.verifyUrl + '?channel=page', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: {'Content-Type': 'text/plain'}, body: result.text,
    }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (answer) {
      var certificate = Object.assign({}, result.certificate, {
        certificateId: answer.certificate && answer.certificate.certificateId || ''});
      var reasons = (answer.reasons || []).map(function (message) {
        var m = SERVER_REASON.exec(message);
        return m ? {code: m[1], message: message, time: m[2] || '', until: m[3] || '', reason: m[4] || ''}
          : {code: 'server', message: message};
      });
      return Object.assign({}, result, {status: answer.status, reasons: reasons.slice(0, 1), certificate: certificate,
        serverChecked: true});
    }).catch(unchecked);
  }

  // ------------------------------------------------------------ the result
  function reasonText(r) {
    if (r.code === 'revoked' || r.code === 'suspended') {
      var text = r.until ? fill(T.reasons.suspended_until, {until: formatDate(r.until, true)})
        : r.time ? fill(T.reasons[r.code], {time: formatDate(r.time, true)}) : T.status[r.code];
      return r.reason ? text + ' ' + fill(T.reasons.revoked_reason, {reason: r.reason}) : text;
    }
    if (r.code === 'expired' && r.time) return fill(T.reasons.expired_at, {time: formatDate(r.time, true)});
    return T.reasons[r.code] || r.message;
  }

  function issuerLabel(issuer) {
    try {
      var u = new URL(issuer);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.host;
    } catch (e) { /* not a URL */ }
    return issuer;
  }

  function showResult(result) {
    setBusy('');
    report(result);
    if (state.listRejected && result.certificate) {
      result = Object.assign({}, result, {warnings: (result.warnings || []).concat(
        [{code: 'revocation_list_rejected', message: state.listRejected.message}])});
    }
    var node = els.tpl.content.cloneNode(true);
    var article = node.querySelector('.result');
    var status = result.status in T.status ? result.status : 'invalid';
    article.setAttribute('data-status', status);
    article.classList.add('result--' + status);
    node.querySelector('[data-slot="title"]').textContent = T.status[status];
    node.querySelector('[data-slot="summary"]').textContent = T.summary[status];
    if (status !== 'valid') node.querySelector('[data-slot="contact"]').textContent = T.contact;

    var reasons = node.querySelector('[data-slot="reasons"]');
    (result.reasons || []).forEach(function (r) {
      var li = document.createElement('li');
      li.textContent = reasonText(r);
      li.setAttribute('data-code', r.code);
      reasons.appendChild(li);
    });
    var warnings = node.querySelector('[data-slot="warnings"]');
    (result.warnings || []).forEach(function (w) {
      var li = document.createElement('li');
      li.textContent = T.warnings[w.code] || w.message;
      warnings.appendChild(li);
    });

    var c = result.status === 'invalid' ? null : result.certificate; // never show details of a forgery
    if (c) {
      var doses = result.format === 'shc' ? c.immunizations || [] : [];
      var values = {
        format: T.formats[result.format] || '', name: c.name, age: c.age, gender: c.gender, dob: formatDate(c.dob),
        certificateId: c.certificateId, vaccine: doses.length ? '' : c.vaccine,
        dose: doses.length ? '' : c.dose && c.totalDoses ? fill(T.dose, {dose: c.dose, total: c.totalDoses}) : c.dose,
        date: doses.length ? '' : formatDate(c.date), facility: doses.length ? '' : c.facility,
        immunizations: doses, validUntil: formatDate(c.expiresAt, true), issuer: issuerLabel(c.issuer),
      };
      var details = node.querySelector('[data-slot="details"]');
      Array.prototype.forEach.call(details.querySelectorAll('[data-field]'), function (dd) {
        var v = values[dd.getAttribute('data-field')];
        if (Array.isArray(v)) {
          v.forEach(function (d) {
            var li = document.createElement('li');
            li.textContent = [formatDate(d.date), d.vaccine, d.facility].filter(Boolean).join(' · ');
            dd.firstElementChild.appendChild(li);
          });
          if (!v.length) dd.parentNode.hidden = true;
        } else if (v) dd.textContent = v; else dd.parentNode.hidden = true;
      });
      details.hidden = false;
    }
    node.querySelector('[data-action="again"]').addEventListener('click', clearResult);
    els.result.textContent = '';
    els.result.appendChild(node);
    root.classList.add('has-result'); // the result takes the place of the scan/upload card
    window.scrollTo(0, 0);
    article.focus({preventScroll: true});
  }

  function clearResult() {
    els.result.textContent = '';
    root.classList.remove('has-result');
    els.start.focus();
  }

  function setBusy(text) {
    els.busy.textContent = text;
    root.classList.toggle('is-busy', !!text);
  }

  // payloads: the bytes of the QR code read (or of every QR code in an uploaded image)
  function verifyScanned(payloads) {
    setBusy(T.scan.checking);
    return V.verifyScanned(payloads, state.trust, state.revocations).then(serverStatus).then(showResult);
  }

  // ---------------------------------------------------------------- camera
  function hideNotices() {
    els.timeout.hidden = true;
    els.start.hidden = false;
    els.cameraError.hidden = true;
  }

  function cameraError(text) {
    els.cameraError.textContent = text;
    els.cameraError.hidden = false;
  }

  function startScan() {
    hideNotices();
    els.result.textContent = '';
    root.classList.remove('has-result');
    var md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      cameraError(window.isSecureContext === false ? T.scan.insecure : T.scan.unavailable);
      return;
    }
    V.preloadDecoder();
    setBusy(T.scan.starting);
    md.getUserMedia({audio: false, video: {facingMode: {ideal: 'environment'}, width: {ideal: 1280}, height: {ideal: 720}}})
      .then(function (stream) {
        setBusy('');
        state.stream = stream;
        state.scanning = true;
        state.deadline = Date.now() + SCAN_TIMEOUT * 1000;
        state.lastSecond = -1;
        els.video.srcObject = stream;
        els.scanner.hidden = false;
        els.start.hidden = true;
        els.stop.focus();
        return els.video.play().catch(function () { /* autoplay policies: frames still arrive */ });
      })
      .then(function () { if (state.scanning) scanFrame(); })
      .catch(function (err) {
        setBusy('');
        stopScan();
        var name = err && err.name;
        cameraError(name === 'NotAllowedError' || name === 'SecurityError' ? T.scan.denied : T.scan.unavailable);
      });
  }

  function stopScan() {
    state.scanning = false;
    if (state.stream) {
      state.stream.getTracks().forEach(function (t) { t.stop(); });
      state.stream = null;
    }
    els.video.srcObject = null;
    els.scanner.hidden = true;
    els.start.hidden = false;
  }

  var canvas = document.createElement('canvas');
  var ctx2d = null;

  function frameData(source, width, height, maxSide) {
    var scale = Math.min(1, maxSide / Math.max(width, height));
    var w = Math.max(1, Math.round(width * scale));
    var h = Math.max(1, Math.round(height * scale));
    canvas.width = w;
    canvas.height = h;
    ctx2d = ctx2d || canvas.getContext('2d', {willReadFrequently: true});
    ctx2d.drawImage(source, 0, 0, w, h);
    return ctx2d.getImageData(0, 0, w, h);
  }

  function scanFrame() {
    if (!state.scanning) return;
    var left = Math.ceil((state.deadline - Date.now()) / 1000);
    if (left <= 0) {
      stopScan();
      els.start.hidden = true; // "Try again" takes its place
      els.timeoutText.textContent = fill(T.scan.timeout, {seconds: SCAN_TIMEOUT});
      els.timeout.hidden = false;
      els.retry.focus();
      return;
    }
    if (left !== state.lastSecond && left % 5 === 0) { // every 5 s: not too chatty for screen readers
      state.lastSecond = left;
      els.scanStatus.textContent = fill(T.scan.looking, {seconds: left});
    }
    var video = els.video;
    if (video.readyState < 2 || !video.videoWidth) {
      setTimeout(scanFrame, 100);
      return;
    }
    var image = frameData(video, video.videoWidth, video.videoHeight, 1280);
    V.decodeQR(image).then(function (bytes) {
      if (!state.scanning) return;
      if (bytes) {
        stopScan();
        return verifyScanned([bytes]);
      }
      setTimeout(scanFrame, 60);
    }, function (err) {
      stopScan();
      showResult({status: 'invalid', reasons: [{code: err.code || 'decoder_unavailable', message: String(err.message || err)}]});
    });
  }

  // ---------------------------------------------------------------- upload
  function imageOf(file) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bmp) {
      var data = frameData(bmp, bmp.width, bmp.height, 2048);
      if (bmp.close) bmp.close();
      return data;
    }, function () {
      return file; // let the decoder try the encoded bytes itself
    });
  }

  function onUpload() {
    var file = els.upload.files && els.upload.files[0];
    if (!file) return;
    stopScan();
    hideNotices();
    setBusy(T.scan.reading);
    imageOf(file).then(function (image) {
      els.upload.value = '';
      return V.decodeQRAll(image);
    }).then(function (payloads) {
      if (!payloads.length) return showResult({status: 'invalid', reasons: [{code: 'no_qr', message: 'no QR code found'}]});
      return verifyScanned(payloads);
    }).catch(function (err) {
      showResult({status: 'invalid', reasons: [{code: (err && err.code) || 'error', message: String((err && err.message) || err)}]});
    });
  }

  // ----------------------------------------------------------------- start
  if (!V) {
    cameraError(T.reasons.decoder_unavailable);
    return;
  }
  V.setWasmUrl(cfg.wasmUrl);
  els.start.addEventListener('click', startScan);
  els.retry.addEventListener('click', startScan);
  els.stop.addEventListener('click', function () { stopScan(); els.start.focus(); });
  els.upload.addEventListener('change', onUpload);
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && state.scanning) { stopScan(); els.start.focus(); }
  });
  document.addEventListener('visibilitychange', function () {
    if (document.hidden && state.scanning) stopScan(); // release the camera
  });
  window.addEventListener('online', function () { sync(); });
  window.addEventListener('offline', showSync);
  setInterval(showSync, 30000);

  if ('serviceWorker' in navigator && cfg.swUrl) {
    navigator.serviceWorker.register(cfg.swUrl, {scope: cfg.swScope}).catch(function () { /* works online anyway */ });
  }
  root.classList.add('is-ready');
  sync().then(function () { root.setAttribute('data-synced', 'true'); });
})();
