def test_the_home_page_renders_in_chromium_with_its_own_stylesheet(page, screenshot):
    # when
    response = page.goto("/")

    # then
    assert response.status == 200
    assert page.locator("a.brand").inner_text() == "mlapi"
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    screenshot(page, "home")
