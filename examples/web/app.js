// The demo page's logic: loads tessera-ido.js from the server it talks to, starts the
// journey with the form's values and renders a form for each step the journey waits in.
//
// Query parameters (all optional): serverPath (default: this page's origin + "/ido"),
// clientId, journeyId, username, externalToken, amr — they prefill the start form.

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const startForm = $("start-form");
const stepSection = $("step");
const stepBody = $("step-body");
const resultSection = $("result");
const errorLine = $("error");

for (const [name, id] of [["serverPath", "server-path"], ["clientId", "client-id"],
  ["journeyId", "journey-id"], ["username", "username"], ["externalToken", "external-token"],
  ["amr", "amr"]]) {
  if (params.has(name)) $(id).value = params.get(name);
}
if (!$("server-path").value) $("server-path").value = `${location.origin}/ido`;

let sdk = null;

async function loadSdk(serverPath) {
  const base = serverPath.replace(/\/+$/, "");
  return import(`${base}/sdk/tessera-ido.js`);
}

function showError(e) {
  const code = e && e.errorCode ? e.errorCode : "error";
  const text = e && e.description ? e.description : String(e && e.message ? e.message : e);
  errorLine.textContent = `${code}: ${text}`;
}

function clearError() {
  errorLine.textContent = "";
}

// A label + input pair with a stable id derived from the field name.
function field(name, type, labelText, required) {
  const id = `field-${name}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText || name;
  const input = document.createElement("input");
  input.id = id;
  input.name = name;
  input.type = type === "number" ? "number" : type === "email" ? "email" :
    type === "password" ? "password" : type === "boolean" ? "checkbox" : "text";
  input.required = Boolean(required) && input.type !== "checkbox";
  return [label, input];
}

function valueOf(input, type) {
  if (input.type === "checkbox") return input.checked;
  if (type === "number" || type === "integer") return input.value === "" ? null : Number(input.value);
  return input.value;
}

// The buttons for the step's non-input options (cancel, resend, custom branches).
function optionButtons(options, form) {
  for (const option of Object.values(options || {})) {
    if (!option || option.type === "client_input") continue;
    const button = document.createElement("button");
    button.type = "button";
    button.id = `option-${option.id}`;
    button.textContent = option.label || option.id;
    button.addEventListener("click", () => submit(option.id, {}));
    form.appendChild(button);
  }
}

function render(response) {
  clearError();
  if (response.type === "client_input_required" || response.type === "client_input_update_required") {
    renderStep(response);
  } else {
    renderResult(response);
  }
}

function renderStep(response) {
  startForm.hidden = true;
  resultSection.hidden = true;
  stepSection.hidden = false;
  $("step-id").textContent = `Step: ${response.journeyStepId}`;
  stepBody.replaceChildren();
  const data = response.data || {};
  const form = document.createElement("form");
  form.id = "step-form";
  form.setAttribute("aria-labelledby", "step-heading");
  let collect = null;

  if (Array.isArray(data.fields)) {
    // collect: one input per field.
    $("step-heading").textContent = data.title || "Please fill in";
    collect = data.fields;
    for (const f of data.fields) {
      for (const el of field(f.name, f.type, f.label, f.required)) form.appendChild(el);
    }
  } else if (/otp/i.test(String(response.journeyStepId)) ||
    Object.values(response.clientResponseOptions || {}).some((o) => o && o.type === "resend")) {
    // An OTP step: one passcode input.
    $("step-heading").textContent = data.title || "Enter the passcode we sent you";
    collect = [{ name: "passcode", type: "string", required: true }];
    for (const el of field("passcode", "string", "Passcode", true)) form.appendChild(el);
  } else {
    // information (and any other step): title, text, one button.
    $("step-heading").textContent = data.title || "Information";
    if (data.text) {
      const p = document.createElement("p");
      p.id = "step-text";
      p.textContent = data.text;
      form.appendChild(p);
    }
  }

  const errorData = response.errorData;
  if (errorData) {
    const p = document.createElement("p");
    p.id = "step-error";
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = errorData.message || errorData.code || "invalid input";
    form.appendChild(p);
  }

  const hasInput = Object.values(response.clientResponseOptions || {})
    .some((o) => o && o.type === "client_input") || Object.keys(response.clientResponseOptions || {}).length === 0;
  if (hasInput) {
    const next = document.createElement("button");
    next.type = "submit";
    next.id = "step-submit";
    next.textContent = data.button_text || "Continue";
    form.appendChild(next);
  }
  optionButtons(response.clientResponseOptions, form);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const f of collect || []) {
      values[f.name] = valueOf(form.elements.namedItem(f.name), f.type);
    }
    submit("client_input", values);
  });
  stepBody.appendChild(form);
  const first = form.querySelector("input, button");
  if (first) first.focus();
}

function renderResult(response) {
  startForm.hidden = true;
  stepSection.hidden = true;
  resultSection.hidden = false;
  $("result-type").textContent = response.type;
  if (response.code) {
    $("code-line").hidden = false;
    $("result-code").textContent = response.code;
  } else {
    $("code-line").hidden = true;
    $("result-code").textContent = "";
  }
  $("result-data").textContent = JSON.stringify(response.data, null, 2);
  sessionStorage.removeItem("tessera-ido-state");
}

async function submit(option, data) {
  try {
    const response = await sdk.submitClientResponse(option, data);
    sessionStorage.setItem("tessera-ido-state", sdk.serializeState());
    render(response);
  } catch (e) {
    showError(e);
  }
}

startForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  try {
    const serverPath = $("server-path").value;
    sdk = await loadSdk(serverPath);
    sdk.initialize({ clientId: $("client-id").value, serverPath });
    const additionalParams = {
      username: $("username").value,
      externalToken: $("external-token").value,
    };
    if ($("amr").value) additionalParams.amr = $("amr").value;
    const response = await sdk.startJourney($("journey-id").value, { additionalParams });
    sessionStorage.setItem("tessera-ido-state", sdk.serializeState());
    render(response);
  } catch (e) {
    showError(e);
  }
});

$("restart").addEventListener("click", () => {
  resultSection.hidden = true;
  startForm.hidden = false;
});
