// The board's drag and drop: a card dropped on another column is moved by the same form post
// as its Move button (with Accept: application/json), with its version as the precondition.
// The board is locked while a move is saved; on any refusal the card goes to the column the
// server says it is in, shown as it now is. "Show more" loads the next cards in place.
(function () {
  'use strict';
  var board = document.getElementById('board');
  if (!board) return;
  var sortables = [];
  var reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches;

  function announce(text, urgent) {
    var region = document.getElementById(urgent ? 'announce-assertive' : 'announce-polite');
    region.textContent = '';
    setTimeout(function () { region.textContent = text; }, 50);
    var toast = document.createElement('div');
    toast.className = 'toast' + (urgent ? ' error' : ' success');
    toast.textContent = text;
    document.getElementById('toasts').appendChild(toast);
    if (!urgent) setTimeout(function () { toast.remove(); }, 6000);
  }

  function lock(locked) {
    sortables.forEach(function (s) { s.option('disabled', locked); });
    board.setAttribute('aria-busy', locked ? 'true' : 'false');
  }

  function list(status) { return board.querySelector('ul.cards[data-status="' + status + '"]'); }

  function place(card, status, html) {
    var target = list(status);
    var fresh = card;
    if (html) {
      var holder = document.createElement('ul');
      holder.innerHTML = html;
      fresh = holder.firstElementChild;
      card.remove();
    }
    if (target) target.insertBefore(fresh, target.firstChild); else fresh.remove();
    return fresh;
  }

  function figures(columns) {
    (columns || []).forEach(function (c) {
      var count = board.querySelector('[data-count="' + c.status + '"]');
      var value = board.querySelector('[data-value="' + c.status + '"]');
      if (count) count.textContent = c.count;
      if (value) value.textContent = c.value;
    });
  }

  // Asks for the reason when a card is dropped on Won or Lost; resolves to null on Cancel.
  function askReason(status) {
    return new Promise(function (resolve) {
      var dialog = document.getElementById('close-dialog');
      var input = document.getElementById('close-reason');
      input.value = '';
      input.required = status === 'lost';
      document.getElementById('close-required').textContent = status === 'lost' ? '(required)' : '(optional)';
      dialog.returnValue = '';
      dialog.addEventListener('close', function done() {
        dialog.removeEventListener('close', done);
        resolve(dialog.returnValue === 'confirm' ? input.value : null);
      });
      dialog.showModal();
      input.focus();
    });
  }

  function send(card, status, reason, revert) {
    var form = card.querySelector('form.move');
    var body = new URLSearchParams(new FormData(form));
    body.set('status', status);
    if (reason) body.set('reason', reason);
    lock(true);
    return fetch('/board/move', { method: 'POST', body: body, headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        figures(data.columns);
        if (data.ok) {
          place(card, data.status, data.card);
          announce(data.message, false);
        } else {
          if (data.status) place(card, data.status, data.card); else revert();
          announce(data.message, true);
        }
      })
      .catch(function () { revert(); announce('Not saved: the server could not be reached. Try again.', true); })
      .finally(function () { lock(false); });
  }

  function dropped(event) {
    var card = event.item;
    var status = event.to.dataset.status;
    var revert = function () { event.from.insertBefore(card, event.from.children[event.oldIndex] || null); };
    var closing = status === 'won' || status === 'lost';
    (closing ? askReason(status) : Promise.resolve('')).then(function (reason) {
      if (reason === null) { revert(); return; }
      send(card, status, reason, revert);
    });
  }

  board.querySelectorAll('ul.cards').forEach(function (ul) {
    sortables.push(Sortable.create(ul, {
      group: 'board', sort: false, draggable: '.card', filter: 'select, button', preventOnFilter: false,
      delayOnTouchOnly: true, delay: 200, touchStartThreshold: 5, animation: reduced ? 0 : 150, onAdd: dropped,
    }));
  });

  board.addEventListener('click', function (event) {
    var link = event.target.closest('li.more a');
    if (!link) return;
    event.preventDefault();
    fetch(link.href, { headers: { 'HX-Request': 'true' }, credentials: 'same-origin' })
      .then(function (response) { if (!response.ok) throw new Error(); return response.text(); })
      .then(function (html) { link.parentElement.outerHTML = html; })
      .catch(function () { announce('Could not load more leads. Try again.', true); });
  });

  // After a move by form, the page opens at the moved card: give it focus.
  if (location.hash.indexOf('#card-') === 0) {
    var moved = document.getElementById(location.hash.slice(1));
    if (moved) moved.focus();
  }
})();
