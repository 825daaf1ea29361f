// A record page's extension widgets, as Zoho CRM hosts them: the "New Zendesk Ticket" button opens the
// extension's form in a popup (a modal overlay holding its iframe). When the extension posts
//   {type: "zendesk-for-zoho-crm:ticket-created", ticketId, entity, recordId}
// from that iframe (its own origin only), the page closes the popup and reloads its widgets, as Zoho's
// ZOHO.CRM.UI.Popup.closeReload() does. Iframes get freshly signed contexts from the page's widgets URL.
(function () {
  "use strict";
  var CREATED = "zendesk-for-zoho-crm:ticket-created";
  var popup = document.getElementById("new-ticket-popup");
  if (!popup) return;
  var frame = document.getElementById("new-ticket-widget");
  var origin = popup.getAttribute("data-extension-origin");

  function freshWidgets() {
    return fetch(popup.getAttribute("data-widgets-url"), {credentials: "same-origin"})
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); });
  }

  function open(event) {
    if (event) event.preventDefault();
    freshWidgets().then(function (widgets) {
      frame.src = widgets.new_ticket;
      if (popup.open) popup.close();
      popup.showModal();
    });
  }

  function close(event) {
    if (event) event.preventDefault();
    popup.close();
  }

  function reloadWidgets() {
    freshWidgets().then(function (widgets) {
      var list = document.getElementById("tickets-widget");
      if (list) list.src = widgets.tickets;
    });
  }

  document.getElementById("new-zendesk-ticket").addEventListener("click", open);
  document.getElementById("new-ticket-popup-close").addEventListener("click", close);
  popup.addEventListener("close", function () {
    frame.removeAttribute("src");
    if (/[?&]action=new_ticket/.test(window.location.search)) {  // opened by the link: leave that URL
      window.history.replaceState(null, "", window.location.pathname);
    }
  });
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    if (!event.data || event.data.type !== CREATED) return;
    popup.close();
    reloadWidgets();
  });
})();
