// The settings page (templates/settings/index.html). Zendesk's and Zoho's sign-in pages refuse to be
// framed, so authorization runs in a window of its own ("authorization"). It is opened on the click
// itself (a popup opened later would be blocked) and sent on once the subdomain is saved; the callback
// page (static/js/authorization_callback.js) tells us when it is done.
(function () {
  "use strict";
  var pending = null;
  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-opens-authorization")) pending = window.open("", "authorization");
  }, true);
  document.addEventListener("htmx:afterSettle", function (event) {
    // Only the answer to that form: a service's status part may settle in the meantime.
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!pending || !source || !source.hasAttribute("data-opens-authorization")) return;
    var link = document.querySelector("[data-authorization-url]");
    if (link) pending.location.href = link.href;
    else pending.close();
    pending = null;
  });
  window.addEventListener("message", function (event) {
    if (event.origin === window.location.origin && event.data === "authorization-finished") {
      htmx.trigger(document.body, "authorization-finished");
    }
  });
})();
