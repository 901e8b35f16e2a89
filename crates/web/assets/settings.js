// What the settings pages add when scripts run; every form works without it. Colour pickers
// appear beside the hex field they fill (and follow what is typed there), and Copy buttons copy
// a new token, sign-in link or HTML snippet and say so in the polite live region.
(function () {
  'use strict';
  var HEX = /^#[0-9a-fA-F]{6}$/;

  document.querySelectorAll('input[type="color"][data-hex-field]').forEach(function (picker) {
    var hex = document.getElementById(picker.dataset.hexField);
    if (!hex) return;
    picker.hidden = false;
    picker.addEventListener('input', function () { hex.value = picker.value; });
    hex.addEventListener('input', function () {
      if (HEX.test(hex.value.trim())) picker.value = hex.value.trim().toLowerCase();
    });
  });

  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var region = document.getElementById('announce-polite');
      navigator.clipboard.writeText(source.value).then(function () {
        region.textContent = 'Copied.';
      }, function () {
        source.select();
        region.textContent = 'Could not copy; the text is selected, press Ctrl+C.';
      });
    });
  });
})();
