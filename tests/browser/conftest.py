"""The page tests' stage: the running local stack (started by
tools/browser-tests.sh, which sets the PAGES_* variables), a headless
Chromium per test, and the helpers that talk to the API and the SES
emulator directly, as a person's other tools would."""

import json
import os
import pathlib
import shutil
import uuid

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def _setting(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the page tests with tools/browser-tests.sh (make test does)", 2)
    return value


API_BASE = _setting("PAGES_API_BASE")
SES_BASE = _setting("PAGES_SES_BASE")
LOG_DIR = pathlib.Path(_setting("PAGES_LOG_DIR"))
SCREENSHOTS = pathlib.Path(_setting("PAGES_SCREENSHOTS"))
PASSWORD = "correct horse battery staple"
# The narrowest phone the pages are made for.
PHONE_WIDTH = 360

# Every mailed token the tests saw, for the last test's search of the logs.
SEEN_TOKENS = []


def unique_email(name):
    return f"{name}-{uuid.uuid4().hex[:12]}@example.com"


def api(method, path, body=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{API_BASE}/v1/api/{path}", json=body, headers=headers, timeout=30)


def mailed_link(address, page):
    """The link to `page` in the newest mail to `address` that has one."""
    store = requests.get(f"{SES_BASE}/store", timeout=10).json()
    for email in reversed(store["emails"]):
        if address not in email["destination"]["to"]:
            continue
        for word in email["body"]["text"].split():
            if f"/{page}#token=" in word:
                SEEN_TOKENS.append(word.split("#token=", 1)[1])
                return word
    raise AssertionError(f"no mail to {address} links to {page}")


def open_from_the_mail_viewer(driver, address, subject, action):
    """What a person does under make dev: opens the SES emulator's mail
    viewer, shows the mail's HTML and clicks its link, which opens the page
    in a new tab. The viewer's tab is closed; the page's tab stays."""
    driver.get(f"{SES_BASE}/")
    mail = WebDriverWait(driver, 15).until(
        lambda d: next(
            (m for m in d.find_elements(By.CSS_SELECTOR, ".email") if address in m.text and subject in m.text),
            False,
        )
    )
    viewer = driver.current_window_handle
    mail.find_element(By.XPATH, ".//button[text()='Toggle HTML view']").click()
    driver.switch_to.frame(mail.find_element(By.TAG_NAME, "iframe"))
    driver.find_element(By.LINK_TEXT, action).click()
    driver.switch_to.default_content()
    WebDriverWait(driver, 15).until(lambda d: len(d.window_handles) == 2)
    driver.close()
    driver.switch_to.window(next(h for h in driver.window_handles if h != viewer))
    as_a_phone(driver)


def token_of(link):
    return link.split("#token=", 1)[1]


def register_verified(address, password=PASSWORD):
    assert api("POST", "register", {"email": address, "password": password, "name": "Page Tester"}).status_code == 201
    token = token_of(mailed_link(address, "verify-email"))
    assert api("POST", f"verify_email/{token}").status_code == 200


def as_a_phone(driver):
    """The current tab renders as a phone's screen, PHONE_WIDTH wide."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE_WIDTH, "height": 780, "deviceScaleFactor": 1, "mobile": True},
    )


@pytest.fixture
def browser():
    """Headless Chromium at a phone's width, with its console and network
    events recorded. It reaches loopback only: every other host name fails
    to resolve, and Chromium's background services are off."""
    options = webdriver.ChromeOptions()
    # tools/browser-tests.sh checked that both are installed.
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        # Root in a container has no user namespace for the sandbox.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={PHONE_WIDTH},800",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    as_a_phone(driver)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(driver, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def console_problems(driver, refused_api_calls=0):
    """What the console reported beyond the API's expected refusals: errors,
    warnings, CSP violations. A refused API call (a 4xx the page handles)
    shows as one network error each; exactly `refused_api_calls` are allowed."""
    problems, refusals = [], 0
    for entry in driver.get_log("browser"):
        # The mail viewer's own messages are the emulator's business.
        if entry["level"] not in ("SEVERE", "WARNING") or entry["message"].startswith(SES_BASE):
            continue
        message = entry["message"]
        if (
            entry["source"] == "network"
            and f"{API_BASE}/v1/api/" in message
            and "the server responded with a status of 4" in message
            and "Content Security Policy" not in message
        ):
            refusals += 1
        else:
            problems.append(message)
    if refusals != refused_api_calls:
        problems.append(f"{refusals} refused API calls, expected {refused_api_calls}")
    return problems


def requests_sent(driver):
    """Every request the page made: (method, url, headers), from Chromium's
    network events."""
    sent = []
    for entry in driver.get_log("performance"):
        event = json.loads(entry["message"])["message"]
        if event["method"] == "Network.requestWillBeSent":
            request = event["params"]["request"]
            sent.append((request["method"], request["url"], request["headers"]))
    return sent
