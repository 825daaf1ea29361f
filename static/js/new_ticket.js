// The "New Zendesk Ticket" form (templates/record/_new_ticket.html, widget/record/new_ticket.py).
//
// - Choosing one of the record's contacts fills in the requester's name and email.
// - Once the ticket exists, a form shown in the CRM's popup (a page with `data-new-ticket-popup` on its
//   body) tells the CRM page, which closes the popup and reloads its widgets, as Zoho's
//   ZOHO.CRM.UI.Popup.closeReload() does. The message, posted to window.parent:
//       {type: "zendesk-for-zoho-crm:ticket-created", ticketId: <number>, entity: "Contacts", recordId: "42"}
//   It holds no secret (the CRM page checks it comes from our origin and from its popup's iframe), so
//   it is posted to any origin: the CRM's origin differs by data centre.
// - A form opened in place in the related list has a Cancel button that takes it away again; the list
//   itself reloads on the `ticketCreated` event the server's answer triggers (HX-Trigger).
(function () {
  "use strict";
  if (window.newTicketForm) return; // the fragment may be swapped in more than once
  var MESSAGE_TYPE = "zendesk-for-zoho-crm:ticket-created";

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-fills-requester]")) return;
    var option = select.options[select.selectedIndex];
    if (!option || !option.value) return;
    select.form.elements.requester_name.value = option.getAttribute("data-name") || "";
    select.form.elements.requester_email.value = option.getAttribute("data-email") || "";
  });

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-new-ticket-cancel]");
    var section = cancel && cancel.closest("#new-ticket");
    if (section) section.remove();
  });

  function tellTheCrmPage() {
    var created = document.querySelector("[data-ticket-created]:not([data-told])");
    if (!created) return;
    created.setAttribute("data-told", "");
    if (!document.body.hasAttribute("data-new-ticket-popup") || window.parent === window) return;
    window.parent.postMessage({type: MESSAGE_TYPE, ticketId: Number(created.getAttribute("data-ticket-created")),
                               entity: created.getAttribute("data-entity"),
                               recordId: created.getAttribute("data-record-id")}, "*");
  }

  document.addEventListener("htmx:afterSettle", tellTheCrmPage);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", tellTheCrmPage);
  } else {
    tellTheCrmPage();
  }
  window.newTicketForm = {messageType: MESSAGE_TYPE};
})();
