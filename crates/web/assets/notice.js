// A page that opens on the result of a form post names it in a visible notice. Screen readers
// ignore what a live region already holds when the page loads, so the notice is copied into
// the layout's live region once the page is up (the assertive one for a refusal), and a
// refusal's summary takes the focus, as the UI brief asks of a form's error summary.
(function () {
  'use strict';
  var notice = document.querySelector('[data-announce]');
  if (notice) {
    var urgent = notice.dataset.announce === 'urgent';
    var region = document.getElementById(urgent ? 'announce-assertive' : 'announce-polite');
    setTimeout(function () { region.textContent = notice.textContent.replace(/\s+/g, ' ').trim(); }, 100);
  }
  var summary = document.querySelector('[data-focus]');
  if (summary) summary.focus();
})();
