"""The security headers of every answer (docs/architecture.md#security-headers).

- Content-Security-Policy: our pages run only our own scripts and styles, from static/ (`'self'`):
  no inline script, no inline event handler (onclick=...), no style attribute or <style> block, no
  eval. So htmx runs with `allowEval` off and without its injected indicator style (the htmx-config
  meta tag in templates/base.html; the indicator rules are in static/css/app.css), and nothing may use
  htmx's trigger filters (`every 30s [...]`), `hx-on` or `js:` values, which are evaluated as code.
  `frame-ancestors`: only the CRM (and the configured sandbox origin) may embed our pages; the agent
  sidebar (widget/agent/), only Zendesk's agent pages (and the sandbox origin). No
  `form-action`: the Zendesk form sent without JavaScript is redirected on to Zendesk's sign-in page,
  which a form-action of 'self' would stop.
- Referrer-Policy: no-referrer. Widget contexts travel in URLs (`?ctx=`); no other site may see them in a
  Referer, not even the CRM's own pages.
- X-Content-Type-Options: nosniff. A JSON or text answer is never run as a script or a style.
- Cache-Control: no-store on every answer but static files: pages and fragments hold the widget context
  and the CRM user's data, and the lifecycle answers the context secret; no browser or proxy keeps them.
"""
import functools

from flask import current_app, request

# The CRM web origins of the supported data centres (F3), the only pages allowed to frame ours.
CRM_ORIGINS = ("https://crm.zoho.com", "https://crm.zoho.jp", "https://crm.zoho.in", "https://crm.zoho.com.au",
               "https://crm.zohocloud.ca", "https://crm.zoho.sa")


def init_app(app):
    app.after_request(security_headers)


# Zendesk's agent pages, the only ones allowed to frame the agent sidebar.
ZENDESK_ORIGINS = ("https://*.zendesk.com",)


def content_security_policy(sandbox_origins, framed_by=CRM_ORIGINS):
    """The policy for pages framed by `framed_by` and the SANDBOX_ORIGIN setting's origins."""
    ancestors = framed_by + tuple(origin for origin in sandbox_origins.split() if origin)
    return "; ".join(("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors " + " ".join(ancestors)))


def security_headers(response):
    response.headers.update(security_header_values(current_app.config["SANDBOX_ORIGIN"], request.blueprint,
                                                   request.endpoint))
    return response


@functools.lru_cache(maxsize=256)
def security_header_values(sandbox_origins, blueprint, endpoint):
    """The security headers of an answer of `endpoint`, as (name, value) pairs (built once per endpoint)."""
    framed_by = ZENDESK_ORIGINS if blueprint == "agent" else CRM_ORIGINS
    values = [("Content-Security-Policy", content_security_policy(sandbox_origins, framed_by)),
              ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff")]
    if endpoint != "static":
        values.append(("Cache-Control", "no-store"))
    return tuple(values)
