// Render the reference from this host's own OpenAPI document. "Try it out" calls the
// same origin, so no CORS is involved; the Authorize dialog offers both schemes of the
// document (a JWT access token, or a `dk_` API key; both are sent as Bearer).
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Nothing leaves the page for third parties: no online validator badge.
  validatorUrl: null,
  // A pasted token is never written to localStorage (that is what `true` would do).
  persistAuthorization: false,
  displayRequestDuration: true,
  tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
