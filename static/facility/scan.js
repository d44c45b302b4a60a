// The facility desk's QR scanner: reads the registration QR code with the camera (or a photo)
// using the vendored decoder (static/vendor/divoc-verifier.js, ZXing compiled to WASM, the same
// one the /verify page uses), puts what it read in the enrolment code field and submits the
// verify form.  The server extracts the code (bare, JSON or URL).  Nothing leaves the device
// except that form submission.
(function () {
  'use strict';

  var V = window.DivocVerifier;
  var script = document.currentScript || document.querySelector('script[data-wasm-url]');
  if (!V || !script) return; // no decoder: typing the code still works
  var T = JSON.parse(script.getAttribute('data-i18n') || '{}');
  var SCAN_SECONDS = 60;
  V.setWasmUrl(script.getAttribute('data-wasm-url'));
  document.documentElement.classList.add('can-scan');

  var state = {stream: null, scanning: false, deadline: 0, card: null};
  var canvas = document.createElement('canvas');
  var ctx2d = null;

  function q(card, sel) { return card && card.querySelector(sel); }

  function say(card, text, isError) {
    var status = q(card, '[data-scan-status]');
    var error = q(card, '[data-scan-error]');
    if (status) status.textContent = isError ? '' : text;
    if (error) error.textContent = isError ? text : '';
  }

  function frame(source, width, height, maxSide) {
    var scale = Math.min(1, maxSide / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    ctx2d = ctx2d || canvas.getContext('2d', {willReadFrequently: true});
    ctx2d.drawImage(source, 0, 0, canvas.width, canvas.height);
    return ctx2d.getImageData(0, 0, canvas.width, canvas.height);
  }

  function submitText(card, bytes) {
    var text;
    try { text = new TextDecoder('utf-8', {fatal: false}).decode(bytes); } catch (e) { text = ''; }
    var form = q(card, 'form.verify-form');
    var input = form && form.querySelector('input[name="code"]');
    if (!input) return;
    input.value = text.trim();
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function stop() {
    state.scanning = false;
    if (state.stream) {
      state.stream.getTracks().forEach(function (t) { t.stop(); });
      state.stream = null;
    }
    var card = state.card;
    if (card) {
      var video = q(card, '[data-scanner] video');
      if (video) video.srcObject = null;
      var scanner = q(card, '[data-scanner]');
      if (scanner) scanner.hidden = true;
    }
  }

  function scanFrame() {
    if (!state.scanning) return;
    var card = state.card;
    var video = q(card, '[data-scanner] video');
    if (!video || Date.now() > state.deadline) {
      stop();
      return;
    }
    if (video.readyState < 2 || !video.videoWidth) {
      setTimeout(scanFrame, 100);
      return;
    }
    V.decodeQR(frame(video, video.videoWidth, video.videoHeight, 1280)).then(function (bytes) {
      if (!state.scanning) return;
      if (bytes) {
        stop();
        submitText(card, bytes);
      } else {
        setTimeout(scanFrame, 80);
      }
    }, function () {
      stop();
      say(card, T.unavailable, true);
    });
  }

  function start(card) {
    stop();
    state.card = card;
    var md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      say(card, T.unavailable, true);
      return;
    }
    V.preloadDecoder();
    say(card, T.starting, false);
    md.getUserMedia({audio: false, video: {facingMode: {ideal: 'environment'}, width: {ideal: 1280}, height: {ideal: 720}}})
      .then(function (stream) {
        state.stream = stream;
        state.scanning = true;
        state.deadline = Date.now() + SCAN_SECONDS * 1000;
        var video = q(card, '[data-scanner] video');
        video.srcObject = stream;
        q(card, '[data-scanner]').hidden = false;
        say(card, T.looking, false);
        var stopButton = q(card, '[data-scan-stop]');
        if (stopButton) stopButton.focus();
        return video.play().catch(function () { /* autoplay policy: frames still arrive */ });
      })
      .then(function () { if (state.scanning) scanFrame(); })
      .catch(function (err) {
        stop();
        var name = err && err.name;
        say(card, name === 'NotAllowedError' || name === 'SecurityError' ? T.denied : T.unavailable, true);
      });
  }

  function upload(card, file) {
    stop();
    state.card = card;
    say(card, T.reading, false);
    var image = window.createImageBitmap ? createImageBitmap(file).then(function (bmp) {
      var data = frame(bmp, bmp.width, bmp.height, 2048);
      if (bmp.close) bmp.close();
      return data;
    }, function () { return file; }) : Promise.resolve(file);
    image.then(function (img) { return V.decodeQR(img); }).then(function (bytes) {
      if (bytes) submitText(card, bytes); else say(card, T.no_qr, true);
    }, function () { say(card, T.no_qr, true); });
  }

  document.addEventListener('click', function (e) {
    var target = e.target.closest && e.target.closest('[data-scan-start], [data-scan-stop]');
    if (!target) return;
    var card = target.closest('#verify-card');
    if (target.hasAttribute('data-scan-start')) start(card); else {
      stop();
      var again = q(card, '[data-scan-start]');
      if (again) again.focus();
    }
  });
  document.addEventListener('change', function (e) {
    if (!e.target.matches || !e.target.matches('[data-scan-upload]')) return;
    var file = e.target.files && e.target.files[0];
    if (file) upload(e.target.closest('#verify-card'), file);
    e.target.value = '';
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape' && state.scanning) stop(); });
  document.addEventListener('visibilitychange', function () { if (document.hidden) stop(); });
  document.body.addEventListener('htmx:beforeSwap', function (e) {
    if (state.card && e.detail.target && e.detail.target.contains(state.card)) stop(); // its video is going away
  });
  // After a verification, move focus to the result so the next step is announced.
  document.body.addEventListener('htmx:afterSettle', function () {
    var result = document.getElementById('beneficiary');
    if (result && !result.contains(document.activeElement)) result.focus();
  });
})();
