// The Zendesk sandbox's agent UI, ticket page: the host side of Zendesk's apps framework (ZAF) for each
// sidebar app's iframe, the part of it an iframe app's ZAF SDK speaks to over postMessage. The sandbox's
// own code, written from the SDK's source (npm zendesk_app_framework_sdk 2.0.11: lib/client.js,
// lib/index.js; https://github.com/zendesk/zendesk_app_framework_sdk) and Zendesk's reference
// (https://developer.zendesk.com/api-reference/apps/apps-core-api/client_api/). Modelled (docs/agent-app.md):
//
// - The app's messages are JSON strings sent to its `origin` (the agent page's origin, from the URL the
//   framework opened the app with), each naming the app's `appGuid` and `instanceGuid`. We accept them
//   only from the app's iframe window and its URL's origin, and answer to that origin only.
// - {key: "iframe.handshake", message: {version}}: answered {key: "zaf.app.registered", message:
//   {metadata, context}}. The SDK sends nothing else before it (its other messages wait for it).
// - {id, request: "get", params: [path, ...]}: answered {id, result: {path: value, ..., errors: {}}}; a path
//   not modelled is left out of the values and named in `errors` ({name, message, path}: the SDK's
//   createError reads these). "set" and "invoke" are not modelled: every key is answered as an error.
// - {key: "iframe.on:<event>", message: {subscriberCount}} and "iframe.off:<event>": the app's
//   subscriptions; an event reaches a subscribed app as {key: "zaf.<event>", message: <data>}. The page
//   fires `ticket.requester.email.changed` (the new email) when its Requester form changes the requester.
// NB: the wording of the `errors` entries and the registration's exact metadata/context fields beyond
// those above are the sandbox's own (Zendesk documents the context's fields, not the wire envelope).
(function () {
  "use strict";
  var frames = [];  // {element, zaf, subscriptions}

  document.querySelectorAll("iframe[data-zaf]").forEach(function (element) {
    frames.push({element: element, zaf: JSON.parse(element.dataset.zaf), subscriptions: {}});
  });

  function send(frame, message) {
    frame.element.contentWindow.postMessage(JSON.stringify(message), frame.zaf.origin);
  }

  function answerGet(frame, paths) {
    var result = {errors: {}};
    (Array.isArray(paths) ? paths : []).forEach(function (path) {
      if (Object.prototype.hasOwnProperty.call(frame.zaf.data, path)) {
        result[path] = frame.zaf.data[path];
      } else {
        result.errors[path] = {name: "APIUnavailable", message: "Could not find handler for: \"" + path + "\"",
                               path: path};
      }
    });
    return result;
  }

  function notModelled(params) {
    var errors = {};
    Object.keys(params || {}).forEach(function (key) {
      errors[key] = {name: "APIUnavailable", message: "Not available in the sandbox", path: key};
    });
    return errors;
  }

  window.addEventListener("message", function (event) {
    var frame = frames.filter(function (candidate) {
      return candidate.element.contentWindow === event.source;
    })[0];
    if (!frame || event.origin !== frame.zaf.origin || typeof event.data !== "string") return;
    var message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    if (!message || message.appGuid !== frame.zaf.appGuid) return;
    if (message.key === "iframe.handshake") {
      send(frame, {key: "zaf.app.registered", message: {metadata: frame.zaf.metadata, context: frame.zaf.context}});
    } else if (message.request === "get") {
      send(frame, {id: message.id, result: answerGet(frame, message.params)});
    } else if (message.request === "set" || message.request === "invoke") {
      send(frame, {id: message.id, error: {name: "APIUnavailable", message: "Not available in the sandbox"},
                   result: {errors: notModelled(message.params)}});
    } else if (typeof message.key === "string" && /^iframe\.(on|off):/.test(message.key)) {
      var name = message.key.replace(/^iframe\.(on|off):/, "");
      var count = message.message && message.message.subscriberCount;
      frame.subscriptions[name] = typeof count === "number" ? count : 0;
    }
  });

  // Fires a framework event into every app subscribed to it.
  function fire(name, data) {
    frames.forEach(function (frame) {
      if (frame.subscriptions[name] > 0) send(frame, {key: "zaf." + name, message: data});
    });
  }

  var requesterForm = document.getElementById("change-requester");
  if (requesterForm) {
    requesterForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = document.getElementById("requester-status");
      fetch(requesterForm.action, {method: "POST", body: new FormData(requesterForm),
                                   headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.error) {
            status.textContent = answer.error;
            return;
          }
          status.textContent = "Requester changed to " + answer.email + ".";
          document.getElementById("ticket-requester").textContent = answer.name;
          frames.forEach(function (frame) { frame.zaf.data["ticket.requester.email"] = answer.email; });
          fire("ticket.requester.email.changed", answer.email);
        })
        .catch(function () { status.textContent = "The sandbox did not answer."; });
    });
  }
  window.zafHost = {fire: fire};
})();

// The framework's signed first request of each app, once the page listens for the apps' messages.
document.querySelectorAll("form.app-launch").forEach(function (form) { form.submit(); });
