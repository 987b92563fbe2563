// tessera-ido.js: the browser client of Tessera's client journeys (IDO).
//
// One ES module without dependencies, served by Tessera at /ido/sdk/tessera-ido.js. Its
// surface follows the hosted platform's IDO SDK: initialize, startJourney,
// submitClientResponse, serializeState / restoreFromSerializedState, and answers shaped like
// its IdoServiceResponse. Errors are thrown as {errorCode, description} with the platform's
// ErrorCode names. Reference: docs/client-journeys.md, "The JavaScript client".

/** The options a client can answer a waiting step with. */
export const ClientResponseOptionType = Object.freeze({
  ClientInput: "client_input",
  Cancel: "cancel",
  Fail: "failure",
  Custom: "custom",
  Resend: "resend",
});

/** The kinds of answers. */
export const IdoServiceResponseType = Object.freeze({
  ClientInputRequired: "client_input_required",
  ClientInputUpdateRequired: "client_input_update_required",
  JourneyRejection: "journey_rejection",
  JourneySuccess: "journey_success",
});

/** The journeyStepId of the final answers. */
export const IdoJourneyActionType = Object.freeze({
  Rejection: "action:rejection",
  Success: "action:success",
  Information: "action:information",
});

/** The error codes thrown (as `{errorCode, description}`). */
export const ErrorCode = Object.freeze({
  InvalidInitializationOptions: "invalid_initialization_options",
  NotInitialized: "not_initialized",
  NoActiveJourney: "no_active_journey",
  NetworkError: "network_error",
  ClientResponseNotValid: "client_response_not_valid",
  ServerError: "server_error",
  InvalidState: "invalid_state",
});

const STATE_VERSION = 1;

// The module's state: what initialize set and the interaction the journey waits in.
let options = null; // {clientId, serverPath}
let interactionId = null;

function fail(errorCode, description) {
  return { errorCode, description };
}

function requireInitialized() {
  if (!options) {
    throw fail(ErrorCode.NotInitialized, "call initialize({clientId, serverPath}) first");
  }
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Sets the client and the server. `serverPath` is the server's IDO base, e.g.
 * `https://id.example.com/ido`. Also accepts the platform's shape
 * `{clientId, ido: {serverPath}}`. Forgets any journey in progress.
 */
export function initialize(init) {
  const clientId = init && init.clientId;
  const serverPath = init && (init.serverPath || (isObject(init.ido) && init.ido.serverPath));
  if (typeof clientId !== "string" || clientId === "") {
    throw fail(ErrorCode.InvalidInitializationOptions, "clientId must be a non-empty string");
  }
  if (typeof serverPath !== "string" || serverPath === "") {
    throw fail(ErrorCode.InvalidInitializationOptions, "serverPath must be a non-empty string");
  }
  let url;
  try {
    url = new URL(serverPath, globalThis.location ? globalThis.location.href : undefined);
  } catch (_) {
    throw fail(ErrorCode.InvalidInitializationOptions, "serverPath is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw fail(ErrorCode.InvalidInitializationOptions, "serverPath must be an http(s) URL");
  }
  options = { clientId, serverPath: url.href.replace(/\/+$/, "") };
  interactionId = null;
}

// Maps a server answer (snake_case) to the platform SDK's response shape.
function toResponse(body) {
  if (!isObject(body) || typeof body.type !== "string") {
    throw fail(ErrorCode.ServerError, "the server's answer is not a journey response");
  }
  const response = {
    journeyStepId: body.journey_step_id,
    type: body.type,
    data: body.data === undefined ? null : body.data,
    clientResponseOptions: isObject(body.client_response_options) ? body.client_response_options : {},
    errorData: body.error_data === undefined ? null : body.error_data,
  };
  if (body.code !== undefined && body.code !== null) {
    response.code = body.code;
  }
  return response;
}

// Maps a server error (status and `{error_code, message}`) to the thrown error.
function toError(status, body) {
  const code = isObject(body) && typeof body.error_code === "string" ? body.error_code : "";
  const message = isObject(body) && typeof body.message === "string" ? body.message : `HTTP ${status}`;
  if (code === "no_active_journey" || status === 404) {
    return fail(ErrorCode.NoActiveJourney, message);
  }
  if (code === "invalid_state" || status === 409) {
    return fail(ErrorCode.InvalidState, message);
  }
  if (status >= 400 && status < 500) {
    return fail(ErrorCode.ClientResponseNotValid, message);
  }
  return fail(ErrorCode.ServerError, message);
}

async function post(url, payload) {
  let res;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw fail(ErrorCode.NetworkError, `the server could not be reached: ${e && e.message ? e.message : e}`);
  }
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  if (!res.ok) {
    throw toError(res.status, body);
  }
  return body;
}

// Applies an answer to the module state and returns it in the SDK's shape.
function settle(body) {
  const response = toResponse(body);
  if (response.type === IdoServiceResponseType.ClientInputRequired ||
      response.type === IdoServiceResponseType.ClientInputUpdateRequired) {
    if (typeof body.interaction_id !== "string" || body.interaction_id === "") {
      throw fail(ErrorCode.ServerError, "a waiting step came without an interaction id");
    }
    interactionId = body.interaction_id;
  } else {
    interactionId = null;
  }
  return response;
}

/**
 * Starts the client journey `journeyId`. `additionalParams` reach the journey as
 * `@policy.request().params`; `codeChallenge` (an S256 PKCE challenge) binds the final code
 * to the verifier the app's backend presents at /oidc/token.
 */
export async function startJourney(journeyId, startOptions = {}) {
  requireInitialized();
  if (typeof journeyId !== "string" || journeyId === "") {
    throw fail(ErrorCode.ClientResponseNotValid, "journeyId must be a non-empty string");
  }
  const opts = isObject(startOptions) ? startOptions : {};
  const additionalParams = opts.additionalParams === undefined ? {} : opts.additionalParams;
  if (!isObject(additionalParams)) {
    throw fail(ErrorCode.ClientResponseNotValid, "additionalParams must be an object");
  }
  const payload = { additionalParams };
  if (opts.codeChallenge !== undefined) {
    if (typeof opts.codeChallenge !== "string" || opts.codeChallenge === "") {
      throw fail(ErrorCode.ClientResponseNotValid, "codeChallenge must be a non-empty string");
    }
    payload.code_challenge = opts.codeChallenge;
    payload.code_challenge_method = "S256";
  }
  const url = `${options.serverPath}/api/v2/journeys/${encodeURIComponent(journeyId)}/start` +
    `?clientId=${encodeURIComponent(options.clientId)}`;
  interactionId = null;
  return settle(await post(url, payload));
}

/**
 * Answers the step the journey waits in: `option` is a ClientResponseOptionType value or
 * the id of a custom option of `clientResponseOptions`; `data` the step's input.
 */
export async function submitClientResponse(option, data = {}) {
  requireInitialized();
  if (!interactionId) {
    throw fail(ErrorCode.NoActiveJourney, "no journey waits for a client response");
  }
  if (typeof option !== "string" || option === "") {
    throw fail(ErrorCode.ClientResponseNotValid, "option must be a non-empty string");
  }
  const body = data === undefined || data === null ? {} : data;
  if (!isObject(body)) {
    throw fail(ErrorCode.ClientResponseNotValid, "data must be an object");
  }
  const url = `${options.serverPath}/api/v2/interactions/${encodeURIComponent(interactionId)}/submit`;
  return settle(await post(url, { option, data: body }));
}

/** The client's state as a string (to continue after a page load). Holds no secret but the interaction id. */
export function serializeState() {
  requireInitialized();
  return JSON.stringify({
    v: STATE_VERSION,
    clientId: options.clientId,
    serverPath: options.serverPath,
    interactionId,
  });
}

/** Restores a state `serializeState` returned; initializes the client if it was not. */
export function restoreFromSerializedState(state) {
  let parsed;
  try {
    parsed = JSON.parse(state);
  } catch (_) {
    throw fail(ErrorCode.InvalidState, "the serialized state is not valid");
  }
  if (!isObject(parsed) || parsed.v !== STATE_VERSION ||
      typeof parsed.clientId !== "string" || typeof parsed.serverPath !== "string" ||
      (parsed.interactionId !== null && typeof parsed.interactionId !== "string")) {
    throw fail(ErrorCode.InvalidState, "the serialized state is not valid");
  }
  initialize({ clientId: parsed.clientId, serverPath: parsed.serverPath });
  interactionId = parsed.interactionId;
}

/** The platform SDK's namespace style: `ido.startJourney(...)`. */
export const ido = Object.freeze({
  initialize,
  startJourney,
  submitClientResponse,
  serializeState,
  restoreFromSerializedState,
});

export default ido;
