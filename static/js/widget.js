// Keeps a long-open CRM page's widget context fresh (widget/context.py). The server answers a request
// whose context is a few minutes old with the context signed again in `X-Widget-Context-Renewed`;
// we swap it in wherever the page holds the context: the body's hx-headers (every HTMX request), the
// forms' `ctx` fields and the `ctx=` of links that open windows of their own. Requests the page makes by
// itself (this renewal, and elements marked `data-widget-background` that poll or load by themselves)
// send `X-Widget-Background: 1`: a page left idle ends an hour after its user's last own action.
(function () {
  "use strict";
  var RENEW_EVERY_MS = 4 * 60 * 1000; // an idle page asks before its 15-minute context runs out

  function currentToken() {
    var headers = document.body.getAttribute("hx-headers");
    return headers ? JSON.parse(headers)["X-Widget-Context"] : null;
  }

  function useToken(token) {
    if (!token || token === currentToken()) return;
    document.body.setAttribute("hx-headers", JSON.stringify({"X-Widget-Context": token}));
    document.querySelectorAll("input[name=ctx]").forEach(function (input) { input.value = token; });
    document.querySelectorAll("a[href*='ctx='], form[action*='ctx=']").forEach(function (element) {
      var attribute = element.tagName === "A" ? "href" : "action";
      var url = new URL(element.getAttribute(attribute), document.baseURI);
      url.searchParams.set("ctx", token);
      element.setAttribute(attribute, url.pathname + url.search + url.hash);
    });
  }

  function renew() {
    if (!currentToken()) return Promise.resolve();
    // X-Widget-Background: the page asks by itself; only the user's own requests count as activity.
    var headers = {"X-Widget-Context": currentToken(), "X-Widget-Background": "1"};
    return fetch(document.body.dataset.contextRenew, {headers: headers, credentials: "omit"})
      .then(function (response) { useToken(response.headers.get("X-Widget-Context-Renewed")); })
      .catch(function () { /* offline for a moment: the next request or timer tries again */ });
  }

  // Polling elements (data-widget-background) ask by themselves: only the user's own requests are activity.
  // The element that sends the request decides, so a form inside a polling section still counts.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.hasAttribute("data-widget-background")) {
      event.detail.headers["X-Widget-Background"] = "1";
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr) useToken(xhr.getResponseHeader("X-Widget-Context-Renewed"));
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") renew();
  });
  window.setInterval(renew, RENEW_EVERY_MS);
  window.widgetContext = {renew: renew, token: currentToken};

  // Links that htmx follows in place carry no context in their href (a kept related list holds none:
  // widget/record/rendered.py); one opened in a window of its own (a middle click, the context menu,
  // Ctrl/Cmd+Enter) takes the page's current context as it opens.
  function withContext(event) {
    var link = event.target.closest && event.target.closest("a[data-with-context]");
    if (!link || !currentToken()) return;
    var url = new URL(link.getAttribute("href"), document.baseURI);
    url.searchParams.set("ctx", currentToken());
    link.setAttribute("href", url.pathname + url.search + url.hash);
  }
  ["mousedown", "contextmenu", "keydown"].forEach(function (name) {
    document.addEventListener(name, withContext, true);
  });
})();

// Moments in the reader's own time zone and language (<time data-local>, dashboard/_time.html).
document.addEventListener("DOMContentLoaded", localTimes);
document.addEventListener("htmx:afterSettle", localTimes);
function localTimes() {
  var format = new Intl.DateTimeFormat(document.documentElement.lang || undefined,
                                       {dateStyle: "medium", timeStyle: "short"});
  document.querySelectorAll("time[data-local]").forEach(function (element) {
    element.textContent = format.format(new Date(element.getAttribute("datetime")));
    element.removeAttribute("data-local");
  });
}

// Parts that poll while the reader can see them (data-poll-while-visible, record/_ticket_list.html): a
// poll while the tab is hidden is dropped, and the body hears `tabVisible` when the tab shows again. Not
// with htmx's trigger filters ("every 30s [...]"): they are evaluated as code, which our
// Content-Security-Policy refuses (widget/headers.py).
document.addEventListener("htmx:beforeRequest", function (event) {
  if (document.visibilityState !== "visible" && event.detail.elt.hasAttribute("data-poll-while-visible")) {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", function () {
  if (document.visibilityState === "visible") htmx.trigger(document.body, "tabVisible");
});
