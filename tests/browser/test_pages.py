"""The pages the mailed links open, in headless Chromium, against the real
functions: a person opens the link from the mail, presses the button or
fills the form, and the API changes accordingly."""

from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from conftest import (
    API_BASE,
    LOG_DIR,
    PASSWORD,
    PHONE_WIDTH,
    SEEN_TOKENS,
    SES_BASE,
    api,
    console_problems,
    mailed_link,
    open_from_the_mail_viewer,
    register_verified,
    requests_sent,
    screenshot,
    token_of,
    unique_email,
)

NEW_PASSWORD = "a brand new passphrase"


def state(driver, name):
    """Waits until the page shows the section of state `name`; returns it."""
    return WebDriverWait(driver, 15).until(shown.visibility_of_element_located((By.CSS_SELECTOR, f'[data-state="{name}"]')))


def only_state_shown(driver):
    visible = [s.get_attribute("data-state") for s in driver.find_elements(By.CSS_SELECTOR, "[data-state]") if s.is_displayed()]
    assert len(visible) == 1, visible
    return visible[0]


def tab_to(driver, element, most=12):
    """Moves the keyboard focus with Tab until it reaches `element`."""
    body = driver.find_element(By.TAG_NAME, "body")
    body.click()
    for _ in range(most):
        if driver.switch_to.active_element == element:
            return
        driver.switch_to.active_element.send_keys(Keys.TAB)
    raise AssertionError("Tab never reached the element")


def assert_token_stayed_in_the_browser(driver, token, route):
    """The token reached the server once per press, in the path of the
    route that spends it (API.md), never in a page request or a Referer;
    and it is gone from the address bar. Besides the API's origin, only
    the mail viewer the link was clicked in was asked for anything."""
    assert "#token=" not in driver.current_url
    api_origin, viewer_origin = urlsplit(API_BASE).netloc, urlsplit(SES_BASE).netloc
    for method, url, headers in requests_sent(driver):
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        origin = urlsplit(url).netloc
        assert origin in (api_origin, viewer_origin), url
        if origin == viewer_origin:
            assert token not in url, url
            continue
        # Chromium lists an empty Referer when the policy sends none.
        assert not any(name.lower() == "referer" and value for name, value in headers.items()), (method, url)
        if token in url:
            assert (method, url) == ("POST", f"{API_BASE}/v1/api/{route}/{token}")


def fits_a_phone(driver):
    return driver.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_the_verification_link_verifies_the_address_and_login_then_works(browser):
    address = unique_email("verify")
    created = api("POST", "register", {"email": address, "password": PASSWORD, "name": "Ada"})
    assert created.status_code == 201
    assert api("POST", "login", {"email": address, "password": PASSWORD}).json()["code"] == "email_not_verified"
    link = mailed_link(address, "verify-email")
    assert link.startswith(f"{API_BASE}/v1/pages/verify-email#token=")

    browser.get(link)
    button = state(browser, "act").find_element(By.CSS_SELECTOR, "button[type=submit]")
    assert button.text == "Verify my email address"
    assert fits_a_phone(browser)
    screenshot(browser, "verify-email-ready")
    # Opening the link spent nothing: the address is still unverified.
    assert api("POST", "login", {"email": address, "password": PASSWORD}).status_code == 403

    tab_to(browser, button)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    done = state(browser, "done")
    assert "Email address verified" in done.text
    assert address in done.text
    assert browser.switch_to.active_element == done.find_element(By.TAG_NAME, "h1")
    screenshot(browser, "verify-email-done")
    assert api("POST", "login", {"email": address, "password": PASSWORD}).status_code == 200
    assert_token_stayed_in_the_browser(browser, token_of(link), "verify_email")
    assert console_problems(browser) == []

    # The same link again: spent, so the page says so and offers a new mail.
    browser.get(link)
    state(browser, "act").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    expired = state(browser, "expired")
    assert "expired or was already used" in expired.text
    screenshot(browser, "verify-email-used")
    expired.find_element(By.CSS_SELECTOR, 'label[for="resend-email"]')
    expired.find_element(By.ID, "resend-email").send_keys(address, Keys.ENTER)
    sent = WebDriverWait(browser, 15).until(shown.visibility_of_element_located((By.CSS_SELECTOR, "[data-sent]")))
    assert sent.text == "If that email is registered and not yet verified, a verification email has been sent"
    assert console_problems(browser, refused_api_calls=1) == []


def test_the_reset_link_shows_the_password_rule_then_sets_the_password(browser):
    address = unique_email("reset")
    register_verified(address)
    assert api("POST", "reset_password", {"email": address}).status_code == 200
    link = mailed_link(address, "reset-password")

    open_from_the_mail_viewer(browser, address, "Reset your password", "Choose a new password")
    form = state(browser, "act")
    field = form.find_element(By.ID, "password")
    assert form.find_element(By.CSS_SELECTOR, 'label[for="password"]').text == "New password"
    assert field.get_attribute("type") == "password"
    assert fits_a_phone(browser)
    screenshot(browser, "reset-password-ready")

    field.send_keys("password1", Keys.ENTER)
    rule = WebDriverWait(browser, 15).until(shown.visibility_of_element_located((By.ID, "password-error")))
    assert rule.text == "New password is one of the most common passwords; choose another"
    assert field.get_attribute("aria-invalid") == "true"
    assert "password-error" in field.get_attribute("aria-describedby")
    assert browser.switch_to.active_element == field
    assert only_state_shown(browser) == "act"
    screenshot(browser, "reset-password-rule")

    # The refused password spent nothing: the same page takes a good one.
    form.find_element(By.CSS_SELECTOR, 'label[for="show-password"]').click()
    assert field.get_attribute("type") == "text"
    field.clear()
    field.send_keys(NEW_PASSWORD, Keys.ENTER)
    done = state(browser, "done")
    assert "Password changed" in done.text
    assert not browser.find_element(By.ID, "password-error").is_displayed()
    screenshot(browser, "reset-password-done")
    assert api("POST", "login", {"email": address, "password": NEW_PASSWORD}).status_code == 200
    assert api("POST", "login", {"email": address, "password": PASSWORD}).json()["code"] == "invalid_credentials"
    assert_token_stayed_in_the_browser(browser, token_of(link), "reset_password")
    assert console_problems(browser, refused_api_calls=1) == []

    browser.get(link)
    state(browser, "act").find_element(By.ID, "password").send_keys("yet another passphrase", Keys.ENTER)
    expired = state(browser, "expired")
    assert "expired or was already used" in expired.text
    screenshot(browser, "reset-password-used")
    assert console_problems(browser, refused_api_calls=1) == []
    assert api("POST", "login", {"email": address, "password": NEW_PASSWORD}).status_code == 200


def test_the_email_change_link_moves_the_account_to_the_new_address(browser):
    address, new_address = unique_email("before"), unique_email("after")
    register_verified(address)
    token = api("POST", "login", {"email": address, "password": PASSWORD}).json()["token"]
    change = api("PUT", "user", {"email": new_address, "current_password": PASSWORD}, token=token)
    assert change.status_code == 202
    link = mailed_link(new_address, "confirm-email-change")

    browser.get(link)
    button = state(browser, "act").find_element(By.CSS_SELECTOR, "button[type=submit]")
    screenshot(browser, "confirm-email-change-ready")
    button.click()
    done = state(browser, "done")
    assert new_address in done.text
    screenshot(browser, "confirm-email-change-done")
    assert api("POST", "login", {"email": new_address, "password": PASSWORD}).status_code == 200
    assert api("POST", "login", {"email": address, "password": PASSWORD}).status_code == 401
    assert_token_stayed_in_the_browser(browser, token_of(link), "confirm_email_change")
    assert console_problems(browser) == []


def test_the_cancel_link_in_the_notice_ends_the_change_with_no_login(browser):
    address, thief = unique_email("owner"), unique_email("thief")
    register_verified(address)
    token = api("POST", "login", {"email": address, "password": PASSWORD}).json()["token"]
    change = api("PUT", "user", {"email": thief, "current_password": PASSWORD}, token=token)
    assert change.status_code == 202
    confirm_link = mailed_link(thief, "confirm-email-change")
    link = mailed_link(address, "cancel-email-change")

    browser.get(link)
    act = state(browser, "act")
    assert "#token=" not in browser.current_url
    button = act.find_element(By.CSS_SELECTOR, "button[type=submit]")
    screenshot(browser, "cancel-email-change-ready")
    button.click()
    done = state(browser, "done")
    assert "keeps its email address" in done.text
    screenshot(browser, "cancel-email-change-done")
    assert_token_stayed_in_the_browser(browser, token_of(link), "cancel_email_change")
    assert console_problems(browser) == []
    # The thief's confirmation no longer works; the account keeps its address.
    refused = api("POST", f"confirm_email_change/{token_of(confirm_link)}")
    assert refused.json()["code"] == "invalid_email_change_token"
    assert api("POST", "login", {"email": address, "password": PASSWORD}).status_code == 200

    browser.get(link)
    state(browser, "act").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "expired or was already used" in state(browser, "expired").text
    screenshot(browser, "cancel-email-change-used")
    assert console_problems(browser, refused_api_calls=1) == []


def test_a_link_without_its_token_says_so_and_a_reload_keeps_the_token(browser):
    browser.get(f"{API_BASE}/v1/pages/reset-password")
    assert "incomplete" in state(browser, "no-token").text
    screenshot(browser, "reset-password-no-token")

    # The token left the address bar but not the tab: a reload still works.
    address = unique_email("reload")
    register_verified(address)
    assert api("POST", "reset_password", {"email": address}).status_code == 200
    browser.get(mailed_link(address, "reset-password"))
    state(browser, "act")
    assert "#token=" not in browser.current_url
    browser.refresh()
    state(browser, "act").find_element(By.ID, "password").send_keys(NEW_PASSWORD, Keys.ENTER)
    state(browser, "done")
    assert console_problems(browser) == []


def test_the_console_check_sees_a_content_security_policy_violation(browser):
    browser.get(f"{API_BASE}/v1/pages/verify-email")
    state(browser, "no-token")
    browser.execute_script("document.head.appendChild(document.createElement('style')).textContent = 'body{}';")
    problems = console_problems(browser)
    assert any("Content Security Policy" in problem for problem in problems), problems


def test_no_mailed_token_reached_a_log():
    """Last: the log of the gateway and the functions (cargo lambda watch
    writes both to functions.log) and those of DynamoDB Local and the
    Secrets Manager emulator hold none of the tokens the tests above used.
    The SES emulator's log is left out: it is the mailbox."""
    assert len(SEEN_TOKENS) >= 6, SEEN_TOKENS
    logs = [LOG_DIR / name for name in ("functions.log", "dynamodb.log", "secretsmanager.log")]
    assert "request-password-reset" in logs[0].read_text(), "the functions ran and logged"
    for log in logs:
        text = log.read_text(errors="replace")
        for token in SEEN_TOKENS:
            assert token not in text, f"a mailed token is in {log}"
