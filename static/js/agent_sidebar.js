// The agent sidebar's page (templates/agent/sidebar.html) inside Zendesk's ticket page. Zendesk's signed
// request names no ticket: like every app of Zendesk's apps framework (ZAF), the page asks the framework
// client in the browser (the ZAF SDK, static/vendor/zaf_sdk-*.min.js, which reads `origin` and `app_guid`
// from this page's URL) which ticket is open and the agent's locale, then loads the panel by htmx with our
// token. The first panel answer carries a token bound to the ticket in `X-Agent-Token`: every later
// request (Try again, Create Lead) sends it. docs/agent-app.md describes the messages.
(function () {
  "use strict";
  var HEADER = "X-Agent-Token";
  var panel = document.getElementById("agent-panel");
  var ticketId = null, locale = "";

  function say(message) {
    var paragraph = document.createElement("p");
    paragraph.className = "error";
    paragraph.id = "agent-message";
    paragraph.setAttribute("role", "alert");
    paragraph.textContent = message;
    panel.replaceChildren(paragraph);
  }

  function token() {
    return JSON.parse(document.body.getAttribute("hx-headers"))[HEADER];
  }

  function load(fresh) {
    var values = {locale: locale};
    if (fresh) values.fresh = "1";  // the requester changed: the server reads it from Zendesk
    var headers = {};
    headers[HEADER] = token();
    return htmx.ajax("GET", panel.dataset.panelUrl + ticketId,
                     {source: panel, target: panel, swap: "innerHTML", values: values, headers: headers});
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var bound = event.detail.xhr && event.detail.xhr.getResponseHeader(HEADER);
    if (bound) {
      var headers = {};
      headers[HEADER] = bound;
      document.body.setAttribute("hx-headers", JSON.stringify(headers));
    }
  });

  var client = window.ZAFClient && window.ZAFClient.init();
  if (!client) {  // opened outside Zendesk: no `origin` and `app_guid` to speak to
    say(panel.dataset.notInZendesk);
    return;
  }
  client.get(["ticket.id", "currentUser.locale"]).then(function (data) {
    ticketId = String(data["ticket.id"] || "");
    locale = data["currentUser.locale"] || "";
    if (!/^[0-9]{1,16}$/.test(ticketId)) {
      say(panel.dataset.noTicket);
      return;
    }
    load(false).then(function () {
      // The app stays mounted while the ticket is open: a new requester gets their own CRM side.
      client.on("ticket.requester.email.changed", function () { load(true); });
    });
  }, function () {
    say(panel.dataset.noTicket);  // no answer within the SDK's 5 seconds, or an error
  });
})();
