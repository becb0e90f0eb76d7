"""GraphiQL and Swagger UI render and run a query with every request off this machine refused (no CDN)."""

from tests.browser.portal_helpers import block_the_internet, log_in


def test_graphiql_opens_with_the_example_query_and_runs_it_offline(
    transactional_db, live_server, page, screenshot, make_user, iris_model
):
    # given: no internet; a logged-in customer (the session is used while the header is left as the hint)
    refused = block_the_internet(page.context, live_server)
    log_in(page, live_server, make_user("alice"))

    # when
    page.goto("/graphql/")
    page.wait_for_selector(".graphiql-container")

    # then: the example query for the demo models and the bearer-token hint in the headers editor
    editors = page.locator(".graphiql-editor .CodeMirror")
    query = page.evaluate("() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")
    assert "query DemoModels" in query and 'modelName: "iris"' in query
    assert '{"Authorization": "Bearer <token>"}' in query and "/o/token/" in query
    tools = page.evaluate(
        "() => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map(e => e.CodeMirror.getValue())"
    )
    screenshot(page, "graphiql-opened")
    assert any('"Authorization": "Bearer <token>"' in value for value in tools), tools
    assert editors.count() >= 2

    # when: run DemoModels (two operations in the document: GraphiQL asks which one)
    page.locator(".graphiql-execute-button").click()
    page.get_by_role("menuitem", name="DemoModels").click() if page.get_by_role(
        "menuitem", name="DemoModels"
    ).count() else None
    page.get_by_role("button", name="DemoModels").click() if page.get_by_role(
        "button", name="DemoModels"
    ).count() else None
    page.wait_for_function(
        "() => (document.querySelector('.result-window .CodeMirror') || {}).CodeMirror?.getValue().includes('iris')"
    )

    # then
    result = page.evaluate("() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()")
    assert '"name": "iris"' in result and '"errors"' not in result
    assert refused == []
    screenshot(page, "graphiql")


def test_swagger_ui_renders_and_runs_a_request_offline(
    transactional_db, live_server, page, screenshot, make_user, iris_model
):
    refused = block_the_internet(page.context, live_server)
    log_in(page, live_server, make_user("alice"))

    page.goto("/api/docs/")
    operation = page.locator(".opblock-get", has=page.locator("[data-path='/api/v1/models']")).first
    operation.wait_for()
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response .response-col_status").first
    response.wait_for()

    assert response.inner_text().strip() == "200"
    assert "iris" in operation.locator(".live-responses-table .response-col_description .microlight").first.inner_text()
    assert refused == []
    screenshot(page, "swagger-ui")
