// The page Zendesk and Zoho send the admin back to (templates/settings/callback.html): tell the settings
// page that opened this window to show the new state; after a success (data-close-when-finished) there
// is nothing left to do here, so the window closes. Without an opener (opened in a tab of its own) it
// stays, with its note and link.
(function () {
  "use strict";
  var result = document.getElementById("authorization-result");
  if (!window.opener || !result) return;
  window.opener.postMessage("authorization-finished", window.location.origin);
  if (result.hasAttribute("data-close-when-finished")) window.close();
})();
