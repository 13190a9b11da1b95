// The behaviour of the pages that mailed links open (API.md "Emails and
// pages"). The token arrives in the URL fragment, which no request
// carries; it is spent only when the person presses the button, because
// mail scanners open links too. Every message shown comes from the API.
'use strict';

const PAGES = {
  'reset-password': {
    route: 'reset_password',
    expiredCode: 'invalid_reset_token',
    body: (form) => ({ password: form.elements.password.value }),
  },
  'verify-email': {
    route: 'verify_email',
    expiredCode: 'invalid_verification_token',
  },
  'confirm-email-change': {
    route: 'confirm_email_change',
    expiredCode: 'invalid_email_change_token',
    stateOf: { email_taken: 'taken' },
  },
  'cancel-email-change': {
    route: 'cancel_email_change',
    expiredCode: 'invalid_email_change_token',
  },
};

const page = document.body.dataset.page;
const config = PAGES[page];
const STORAGE_KEY = `user-api-token:${page}`;
const UNREACHABLE = 'The service could not be reached. Check your connection and try again.';

// The token moves from the address bar (history, bookmarks, screenshots)
// into this tab's session storage, where a reload still finds it.
function takeToken() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  let stored = null;
  try {
    if (fromLink) sessionStorage.setItem(STORAGE_KEY, fromLink);
    stored = sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be off (privacy settings): the token then lives in memory only.
  }
  if (fromLink) history.replaceState(null, '', location.pathname + location.search);
  return stored || fromLink;
}

function forgetToken() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing was stored.
  }
}

function show(state) {
  for (const section of document.querySelectorAll('[data-state]')) {
    section.hidden = section.dataset.state !== state;
  }
  document.querySelector(`[data-state="${state}"] h1`).focus();
}

// The API is beside the pages: /v1/pages/<page> calls /v1/api/<route>.
async function post(path, body) {
  const init = { method: 'POST', credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    init.headers = { 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(new URL(`../api/${path}`, location.href), init);
  const answer = await response.json().catch(() => ({}));
  return { status: response.status, answer };
}

function clearErrors(form) {
  for (const error of form.querySelectorAll('[data-error-for], [data-alert]')) {
    error.hidden = true;
    error.textContent = '';
  }
  for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
}

function showAlert(form, message) {
  const alert = form.querySelector('[data-alert]');
  alert.textContent = message;
  alert.hidden = false;
}

// Each rule the API names goes beside its field ("New password is one of
// the most common passwords; choose another"); the first such field gets focus.
function showFieldErrors(form, answer) {
  let first = null;
  const unplaced = [];
  for (const [field, rule] of Object.entries(answer.fields || {})) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    const input = form.elements[field];
    if (!slot || !input) {
      unplaced.push(`${field} ${rule}`);
      continue;
    }
    const label = form.querySelector(`label[for="${input.id}"]`).textContent;
    slot.textContent = `${label} ${rule}`;
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    first = first || input;
  }
  if (unplaced.length || !first) showAlert(form, [answer.error, ...unplaced].filter(Boolean).join(' '));
  if (first) first.focus();
}

async function whileBusy(form, work) {
  const button = form.querySelector('button[type="submit"]');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = button.dataset.busyLabel;
  form.setAttribute('aria-busy', 'true');
  try {
    await work();
  } catch {
    showAlert(form, UNREACHABLE);
  } finally {
    button.disabled = false;
    button.textContent = label;
    form.removeAttribute('aria-busy');
  }
}

async function consume(form, token) {
  const { status, answer } = await post(
    `${config.route}/${encodeURIComponent(token)}`,
    config.body && config.body(form),
  );
  if (status === 200) {
    forgetToken();
    for (const slot of document.querySelectorAll('[data-fill="email"]')) {
      slot.textContent = answer.user ? answer.user.email : '';
    }
    show('done');
  } else if (answer.code === config.expiredCode) {
    forgetToken();
    show('expired');
  } else if (config.stateOf && config.stateOf[answer.code]) {
    forgetToken();
    show(config.stateOf[answer.code]);
  } else if (answer.fields) {
    showFieldErrors(form, answer);
  } else {
    showAlert(form, answer.error || UNREACHABLE);
  }
}

async function resend(form) {
  const { status, answer } = await post(form.dataset.route, { email: form.elements.email.value });
  if (status === 200) {
    const sent = form.parentElement.querySelector('[data-sent]');
    sent.textContent = answer.message;
    sent.hidden = false;
    form.hidden = true;
  } else if (answer.fields) {
    showFieldErrors(form, answer);
  } else {
    showAlert(form, answer.error || UNREACHABLE);
  }
}

function start() {
  // A second link opened in this tab changes only the fragment, which
  // loads nothing: start over with its token.
  window.addEventListener('hashchange', () => location.reload());
  const token = takeToken();
  if (!token) {
    show('no-token');
    return;
  }
  for (const form of document.querySelectorAll('form[data-action]')) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearErrors(form);
      whileBusy(form, () => (form.dataset.action === 'consume' ? consume(form, token) : resend(form)));
    });
  }
  for (const toggle of document.querySelectorAll('[data-reveals]')) {
    toggle.addEventListener('change', () => {
      document.getElementById(toggle.dataset.reveals).type = toggle.checked ? 'text' : 'password';
    });
  }
}

start();
