// Starts GraphiQL (loaded before this file from our own static files) on the page's #graphiql element.
// A separate file, not an inline script, so the page runs under script-src 'self'.
(function () {
  "use strict";
  var TOKEN_PLACEHOLDER = "Bearer <token>";
  var root = document.getElementById("graphiql");
  var csrf = document.querySelector("[name=csrfmiddlewaretoken]");
  var baseFetcher = window.GraphiQL.createFetcher({
    url: window.location.pathname,
    headers: csrf ? { "X-CSRFToken": csrf.value } : {},
  });

  // The example header is a hint, not a credential: left untouched it is not sent, so a signed-in
  // session (or an anonymous caller) is not refused as an invalid token.
  function fetcher(params, options) {
    var headers = options && options.headers;
    if (headers && headers.Authorization === TOKEN_PLACEHOLDER) {
      delete headers.Authorization;
    }
    return baseFetcher(params, options);
  }

  window.ReactDOM.render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: document.getElementById("graphiql-example-query").textContent.trim() + "\n",
      defaultHeaders: root.dataset.defaultHeaders,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false, // tokens never go to localStorage
      defaultEditorToolsVisibility: "headers",
    }),
    root
  );
})();
