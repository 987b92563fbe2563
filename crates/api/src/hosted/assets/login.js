// login.js: the script of Tessera's hosted login and CIBA approval pages.
//
// Reads the page data (<script type="application/json" id="tessera-page">), runs the login
// journey with tessera-ido.js, renders each step the journey waits in as a plain HTML form,
// and on success with a code fills the page's completion form (#tessera-complete) and
// submits it (login mode) or shows it with its Approve / Deny buttons (ciba mode).
//
// Every visible string comes from the page data's `strings`; no markup is ever built from
// data (DOM nodes and textContent only).

import * as ido from "/ido/sdk/tessera-ido.js";

const page = JSON.parse(document.getElementById("tessera-page").textContent);
const strings = page.strings || {};
const root = document.getElementById("tessera-steps");
const completion = document.getElementById("tessera-complete");

/** The page's text for `key`, with `{name}` placeholders filled from `vars`. */
function msg(key, vars = {}) {
  let text = typeof strings[key] === "string" ? strings[key] : "";
  for (const [name, value] of Object.entries(vars)) {
    text = text.split(`{${name}}`).join(String(value));
  }
  return text;
}

/** An element with attributes (set as properties or attributes, never as markup). */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "htmlFor") node.htmlFor = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child) node.appendChild(child);
  }
  return node;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The text for an error code, when the page has one (`error.<code>`). */
function errorText(code, fallbackKey = "error.generic") {
  const key = `error.${code}`;
  return typeof code === "string" && typeof strings[key] === "string" ? strings[key] : msg(fallbackKey);
}

// What the user typed into the username field last, kept across a re-rendered step.
let lastUsername = typeof page.loginHint === "string" ? page.loginHint : "";
// The option of the last submit (to say "we sent a new code" after a resend).
let lastOption = null;
let busy = false;

/** Replaces the step area's content. */
function show(...nodes) {
  root.replaceChildren(...nodes.filter(Boolean));
}

function status(text) {
  return el("p", { role: "status", class: "tessera-status", text });
}

function alertLine(text) {
  return el("p", { role: "alert", class: "tessera-error", id: "tessera-error", text });
}

function startAgainLink() {
  return el("p", {}, [el("a", { href: location.href, id: "tessera-start-again", text: msg("button.start_again") })]);
}

/** Which kind of step an answer is, from its data (the protocol does not name step types). */
function kindOf(response) {
  const data = isObject(response.data) ? response.data : {};
  const options = Object.values(response.clientResponseOptions || {});
  if (Array.isArray(data.fields)) return "collect";
  if ("email" in data || "phone_number" in data || options.some((o) => o && o.type === "resend")) return "otp";
  if ("title" in data || "text" in data || "button_text" in data) return "information";
  return "password";
}

/** A labelled input: [wrapper, input]. */
function field({ name, type = "text", label, required = false, autocomplete, value, inputmode, readonly, invalid, describedBy }) {
  const id = `tessera-field-${name}`;
  const input = el("input", {
    id,
    name,
    type,
    autocomplete,
    inputmode,
    required: required && type !== "checkbox",
    readonly,
    "aria-invalid": invalid ? "true" : null,
    "aria-describedby": invalid && describedBy ? describedBy : null,
  });
  if (value !== undefined && value !== null) {
    if (type === "checkbox") input.checked = Boolean(value);
    else input.value = String(value);
  }
  const labelNode = el("label", { htmlFor: id }, [
    document.createTextNode(label),
    required && type !== "checkbox" ? el("span", { class: "tessera-required", text: ` ${msg("field.required")}` }) : null,
  ]);
  const wrapper = el("div", { class: type === "checkbox" ? "tessera-field tessera-check" : "tessera-field" },
    type === "checkbox" ? [input, labelNode] : [labelNode, input]);
  return [wrapper, input];
}

/** The buttons of the options other than client_input (cancel, resend, custom branches). */
function optionButtons(response, kind) {
  const buttons = [];
  for (const option of Object.values(response.clientResponseOptions || {})) {
    if (!isObject(option) || option.type === "client_input") continue;
    let text = option.label;
    if (!text) {
      if (option.type === "resend") text = msg("button.resend");
      else if (option.type === "cancel") text = msg("button.cancel");
      else text = option.id;
    }
    const button = el("button", { type: "button", class: "tessera-secondary", id: `tessera-option-${option.id}`, text });
    button.addEventListener("click", () => submit(option.id, {}));
    buttons.push(button);
  }
  return buttons;
}

/** Renders a waiting step as a form. */
function renderStep(response) {
  const kind = kindOf(response);
  const data = isObject(response.data) ? response.data : {};
  const errorData = isObject(response.errorData) ? response.errorData : null;
  const options = response.clientResponseOptions || {};
  const offersInput = Object.keys(options).length === 0 ||
    Object.values(options).some((o) => o && o.type === "client_input");
  const form = el("form", { id: "tessera-step", novalidate: true, "aria-labelledby": "tessera-step-heading" });
  const heading = el("h2", { id: "tessera-step-heading", tabindex: "-1" });
  form.appendChild(heading);
  const invalidFields = errorData && Array.isArray(errorData.fields) ? errorData.fields : [];
  const inputs = []; // [{name, type, input}]
  let submitText = msg("button.continue");
  let errorMessage = null;
  if (errorData) {
    const code = errorData.code;
    errorMessage = kind === "otp" && code === "invalid_credentials" ? msg("error.invalid_code") : errorText(code);
  }
  const add = (spec) => {
    const [wrapper, input] = field({ ...spec, describedBy: "tessera-error" });
    form.appendChild(wrapper);
    inputs.push({ name: spec.name, type: spec.fieldType || spec.type, input });
  };

  if (kind === "information") {
    heading.textContent = typeof data.title === "string" && data.title ? data.title : msg("step.information");
    if (typeof data.text === "string" && data.text) form.appendChild(el("p", { id: "tessera-step-text", text: data.text }));
    if (typeof data.button_text === "string" && data.button_text) submitText = data.button_text;
  } else if (kind === "collect") {
    heading.textContent = msg("step.collect");
    for (const f of data.fields) {
      if (!isObject(f) || typeof f.name !== "string") continue;
      const type = { number: "number", boolean: "checkbox", email: "email", phone: "tel", date: "date" }[f.type] || "text";
      const autocomplete = f.name === "username" ? "username" : f.type === "email" ? "email" : f.type === "phone" ? "tel" : null;
      add({
        name: f.name,
        type,
        fieldType: f.type,
        label: typeof f.label === "string" && f.label ? f.label : f.name,
        required: Boolean(f.required),
        autocomplete,
        inputmode: f.type === "number" ? "decimal" : null,
        value: f.name === "username" ? lastUsername : undefined,
        invalid: invalidFields.includes(f.name),
      });
    }
  } else if (kind === "otp") {
    heading.textContent = msg("step.otp");
    if (typeof data.email === "string") {
      form.appendChild(el("p", { id: "tessera-step-text", text: msg("step.otp_email", { address: data.email }) }));
    } else if (typeof data.phone_number === "string") {
      form.appendChild(el("p", { id: "tessera-step-text", text: msg("step.otp_sms", { address: data.phone_number }) }));
    }
    add({
      name: "passcode",
      label: msg("field.passcode"),
      required: true,
      autocomplete: "one-time-code",
      inputmode: "numeric",
      invalid: Boolean(errorData),
    });
    submitText = msg("button.verify");
  } else {
    heading.textContent = msg("step.password");
    const fixed = typeof data.username === "string" ? data.username : null;
    add({
      name: "username",
      label: msg("field.username"),
      required: true,
      autocomplete: "username",
      value: fixed !== null ? fixed : lastUsername,
      readonly: fixed !== null,
      fieldType: fixed !== null ? "fixed" : "string",
    });
    add({
      name: "password",
      type: "password",
      label: msg("field.password"),
      required: true,
      autocomplete: "current-password",
      invalid: Boolean(errorData),
    });
    submitText = msg("button.sign_in");
  }

  let errorNode = null;
  if (errorMessage) {
    errorNode = alertLine(errorMessage);
    form.appendChild(errorNode);
  } else if (lastOption === "resend" && kind === "otp") {
    form.appendChild(status(msg("otp.resent")));
  }
  const actions = el("div", { class: "tessera-actions" });
  if (offersInput) actions.appendChild(el("button", { type: "submit", id: "tessera-submit", text: submitText }));
  for (const b of optionButtons(response, kind)) actions.appendChild(b);
  form.appendChild(actions);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // The browser's own checks of required fields and types, shown by the browser.
    if (!form.reportValidity()) return;
    const values = {};
    for (const { name, type, input } of inputs) {
      if (type === "fixed") continue;
      if (type === "boolean") values[name] = input.checked;
      else if (type === "number") {
        if (input.value !== "") values[name] = Number(input.value);
      } else if (input.value !== "" || input.required) values[name] = input.value;
      if (name === "username" && type !== "fixed") lastUsername = input.value;
    }
    submit("client_input", kind === "information" ? {} : values);
  });
  show(form);

  // Focus: the first invalid field, else the first empty field, else the first field or button.
  const target = inputs.find((i) => i.input.getAttribute("aria-invalid") === "true") ||
    inputs.find((i) => !i.input.readOnly && i.input.value === "") ||
    inputs.find((i) => !i.input.readOnly);
  if (target) target.input.focus();
  else if (errorNode) { errorNode.tabIndex = -1; errorNode.focus(); }
  else {
    const button = form.querySelector("button");
    if (button) button.focus();
  }
}

/** The journey ended without a code: a message and a link to start again. */
function renderRejection(response) {
  const data = isObject(response.data) ? response.data : {};
  const errorData = isObject(response.errorData) ? response.errorData : {};
  const code = errorData.code || data.code || data.reason;
  const heading = el("h2", { id: "tessera-step-heading", tabindex: "-1", text: msg("rejected.heading") });
  const line = alertLine(errorText(code));
  show(heading, line, startAgainLink());
  heading.focus();
}

/** A thrown SDK error: the message and, unless the network failed, a link to start again. */
function renderFailure(e) {
  const code = e && e.errorCode;
  if (code === "network_error" && root.querySelector("form")) {
    // Keep the form (and what was typed); say what happened.
    const old = document.getElementById("tessera-error");
    if (old) old.remove();
    const line = alertLine(msg("error.network"));
    const actions = root.querySelector(".tessera-actions");
    actions.parentNode.insertBefore(line, actions);
    setBusy(false);
    line.tabIndex = -1;
    line.focus();
    return;
  }
  const text = code === "no_active_journey" || code === "invalid_state" ? msg("error.expired") :
    code === "network_error" ? msg("error.network") : msg("error.generic");
  const line = alertLine(text);
  show(line, startAgainLink());
  line.tabIndex = -1;
  line.focus();
}

function renderSuccess(response) {
  if (typeof response.code !== "string" || response.code === "" || !completion) {
    renderFailure({ errorCode: "server_error" });
    return;
  }
  completion.elements.namedItem("code").value = response.code;
  if (page.mode === "ciba") {
    const first = document.getElementById("tessera-sign-in-first");
    if (first) first.hidden = true;
    show();
    completion.hidden = false;
    const approve = document.getElementById("tessera-approve");
    if (approve) approve.focus();
    return;
  }
  show(status(msg("login.redirecting")));
  completion.submit();
}

function render(response) {
  setBusy(false);
  if (response.type === ido.IdoServiceResponseType.ClientInputRequired ||
      response.type === ido.IdoServiceResponseType.ClientInputUpdateRequired) {
    renderStep(response);
  } else if (response.type === ido.IdoServiceResponseType.JourneySuccess) {
    renderSuccess(response);
  } else {
    renderRejection(response);
  }
}

function setBusy(on) {
  busy = on;
  root.setAttribute("aria-busy", on ? "true" : "false");
  for (const b of root.querySelectorAll("button")) b.disabled = on;
}

async function submit(option, data) {
  if (busy) return;
  setBusy(true);
  lastOption = option;
  try {
    render(await ido.submitClientResponse(option, data));
  } catch (e) {
    renderFailure(e);
  }
}

async function start() {
  show(status(msg("login.loading")));
  setBusy(true);
  try {
    ido.initialize({ clientId: page.clientId, serverPath: `${location.origin}/ido` });
    const params = {};
    if (typeof page.loginHint === "string" && page.loginHint !== "") params.login_hint = page.loginHint;
    const options = { additionalParams: params };
    if (typeof page.codeChallenge === "string" && page.codeChallenge !== "") options.codeChallenge = page.codeChallenge;
    render(await ido.startJourney(page.journeyId, options));
  } catch (e) {
    setBusy(false);
    renderFailure(e);
  }
}

start();
