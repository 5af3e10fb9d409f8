// The in-person page's live state: a countdown to the QR code's expiry, the session's state
// by server-sent events (polling every 2 s when they fail), and a reload once there is a
// verdict (the verdict itself is rendered by the server). No strings here: the page's
// texts come from the server in the operator's language.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live) { return; }
  var pending = ['created', 'request_fetched', 'response_received'];
  var order = pending.concat(['verdict']);
  var deadline = Date.now() + Number(live.getAttribute('data-remaining') || 0) * 1000;
  var countdown = document.getElementById('countdown');
  var finished = false;
  var polling = null;
  var source = null;

  function show(status) {
    live.setAttribute('data-status', status);
    var at = order.indexOf(status);
    if (at < 0) { at = order.length - 1; }
    var steps = live.querySelectorAll('[data-step]');
    for (var i = 0; i < steps.length; i++) {
      steps[i].classList.toggle('done', i < at);
      steps[i].classList.toggle('current', i === at);
      if (i === at) { steps[i].setAttribute('aria-current', 'step'); } else { steps[i].removeAttribute('aria-current'); }
    }
    if (pending.indexOf(status) < 0 && !finished) {
      finished = true;
      if (source) { source.close(); }
      if (polling) { clearInterval(polling); }
      window.location.reload();
    }
  }

  function update(state) {
    if (typeof state.remaining === 'number' && state.pending) { deadline = Date.now() + state.remaining * 1000; }
    show(state.status);
  }

  function poll() {
    fetch(live.getAttribute('data-state-url'), { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) { update(s); } })
      .catch(function () {});
  }

  function startPolling() {
    if (!polling && !finished) { polling = setInterval(poll, 2000); poll(); }
  }

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    countdown.textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0');
    live.classList.toggle('ending', left <= 30);
    if (left === 0 && !finished) { poll(); }
  }
  setInterval(tick, 1000);
  tick();

  if (window.EventSource) {
    source = new EventSource(live.getAttribute('data-events-url'));
    source.addEventListener('state', function (e) {
      try { update(JSON.parse(e.data)); } catch (err) { startPolling(); }
    });
    source.onerror = function () { source.close(); startPolling(); };
  } else {
    startPolling();
  }
})();
