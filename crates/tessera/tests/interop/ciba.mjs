// CIBA against a running Tessera, driven by the npm OpenID Connect relying-party library
// openid-client: discovery, initiateBackchannelAuthentication, the user's
// decision (done here with fetch, as the login_uri page would), then the tokens through the
// library, which validates the ID token (issuer, audience, signature against the JWKS,
// timestamps). Poll mode, ping mode with a notification receiver on 127.0.0.1, and errors the
// library raises (wrong client secrets, unknown user, denial, a second redemption).
//
// Input: the JSON object in the environment variable TESSERA_INTEROP (see README.md).
// Output: one JSON line on stdout with what the library returned; any failed check prints
// `ciba.mjs: <reason>` on stderr and exits 1.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
// The whole run must end well before this (each library poll waits the 5 s interval).
const RUN_DEADLINE_MS = 60_000;
const PING_DEADLINE_MS = 20_000;
const POLL_DEADLINE_MS = 40_000;

class CheckFailed extends Error {}

function check(condition, what) {
  if (!condition) throw new CheckFailed(what);
}

function readInput() {
  const text = process.env.TESSERA_INTEROP;
  check(text, 'the environment variable TESSERA_INTEROP (a JSON object) is not set');
  const input = JSON.parse(text);
  for (const key of ['issuer', 'admin', 'poll_client', 'ping_client', 'backend_client', 'user']) {
    check(input[key] !== undefined, `TESSERA_INTEROP lacks \`${key}\``);
  }
  return input;
}

// Prints why the run failed and exits 1.
function fail(error) {
  let detail = error instanceof CheckFailed ? error.message : `${error?.name}: ${error?.message} (${error?.code ?? 'no code'})`;
  if (!(error instanceof CheckFailed) && error?.cause !== undefined) {
    try {
      detail += ` cause: ${error.cause?.message ?? ''} ${JSON.stringify(error.cause)} ${JSON.stringify(error.cause?.cause ?? null)}`;
    } catch {
      // A cause that does not serialize adds nothing.
    }
  }
  process.stderr.write(`ciba.mjs: ${detail}\n${error instanceof CheckFailed ? '' : (error?.stack ?? '')}\n`);
  process.exit(1);
}

let input;
try {
  input = readInput();
} catch (error) {
  fail(error);
}
const issuer = input.issuer;

// A JSON request to Tessera's own APIs (the parts a relying party library does not cover).
async function api(method, path, { bearer, json, form } = {}) {
  const headers = {};
  let body;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  }
  if (form !== undefined) body = new URLSearchParams(form);
  const response = await fetch(`${issuer}${path}`, { method, headers, body });
  const text = await response.text();
  check(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function clientToken({ client_id, client_secret }) {
  const answer = await api('POST', '/oidc/token', {
    form: { grant_type: 'client_credentials', client_id, client_secret },
  });
  return answer.access_token;
}

// The user's part, as the login_uri page does it: a fresh password login (its token must be
// newer than the request), then the decision.
async function decide(authReqId, approved) {
  const backend = await clientToken(input.backend_client);
  const login = await api('POST', '/cis/v1/auth/password/authenticate', {
    bearer: backend,
    json: { username: input.user.username, password: input.user.password },
  });
  const answer = await api('POST', '/cis/auth/backchannel/complete', {
    bearer: login.access_token,
    json: { auth_req_id: authReqId, approved },
  });
  check(answer?.status === (approved ? 'approved' : 'denied'), `complete answered ${JSON.stringify(answer)}`);
}

// What the token endpoint answered to each CIBA grant request, per auth_req_id: the HTTP
// status, or the OAuth `error` of an error answer. Seen through the library's customFetch
// hook, which also tells a flow when its request was first found pending.
class TokenEndpointLog {
  #answers = new Map();
  #waiters = [];

  fetch = async (url, options) => {
    const response = await fetch(url, options);
    const params = options?.body instanceof URLSearchParams ? options.body : new URLSearchParams(String(options?.body ?? ''));
    if (params.get('grant_type') === CIBA_GRANT) {
      let answer = String(response.status);
      if (!response.ok) {
        try {
          answer = (await response.clone().json()).error ?? answer;
        } catch {
          // Not JSON: the status stays the answer, and the library reports the body.
        }
      }
      this.#record(params.get('auth_req_id'), answer);
    }
    return response;
  };

  #record(id, answer) {
    const answers = this.#answers.get(id) ?? [];
    answers.push(answer);
    this.#answers.set(id, answers);
    this.#waiters = this.#waiters.filter(({ id: wanted, answer: expected, resolve }) => {
      if (wanted !== id || expected !== answer) return true;
      resolve();
      return false;
    });
  }

  // Resolves when `id` is first answered `answer`.
  waitFor(id, answer) {
    if ((this.#answers.get(id) ?? []).includes(answer)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ id, answer, resolve }));
  }

  // A copy of the answers so far.
  answers(id) {
    return [...(this.#answers.get(id) ?? [])];
  }
}

// A configuration from the library's discovery of the issuer (plain http is allowed for
// 127.0.0.1 only because the test server runs there), with ID token signatures checked
// against the JWKS, and its token endpoint log.
async function configure({ client_id, client_secret, id_token_alg }, authentication) {
  const log = new TokenEndpointLog();
  // The library then insists on `auth_time` in ID tokens and on the client's registered ID
  // token algorithm.
  const metadata = { require_auth_time: true, id_token_signed_response_alg: id_token_alg };
  const config = await client.discovery(new URL(issuer), client_id, metadata, authentication(client_secret), {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: log.fetch,
  });
  client.enableNonRepudiationChecks(config);
  return { config, log };
}

// Runs `promise` expecting the library to raise an OAuth error response; its `error` and
// HTTP status.
async function oauthError(promise, what) {
  try {
    await promise;
  } catch (error) {
    check(error instanceof client.ResponseBodyError, `${what}: expected a ResponseBodyError, got ${error}`);
    return { error: error.error, status: error.status, error_description: error.error_description };
  }
  throw new CheckFailed(`${what}: the library raised no error`);
}

// A request with a wrong client secret: Tessera answers 401 `invalid_client` with a
// `WWW-Authenticate: Basic` challenge, which the library parses and raises as a
// WWWAuthenticateChallengeError.
async function wrongSecret(credentials, authentication) {
  const { config } = await configure({ ...credentials, client_secret: `wrong-${randomBytes(8).toString('hex')}` }, authentication);
  try {
    await initiate(config);
  } catch (error) {
    check(
      error instanceof client.WWWAuthenticateChallengeError,
      `a wrong secret: expected a WWWAuthenticateChallengeError, got ${error?.name}: ${error?.message}`,
    );
    return {
      status: error.response.status,
      challenges: error.cause.map(({ scheme, parameters }) => ({ scheme, parameters: { ...parameters } })),
      body: await error.response.json(),
    };
  }
  throw new CheckFailed('a wrong secret: the library raised no error');
}

function initiate(config, extra = {}) {
  return client.initiateBackchannelAuthentication(config, {
    scope: 'openid',
    login_hint: input.user.username,
    request_context: JSON.stringify({ channel: 'link' }),
    ...extra,
  });
}

// The ID token claims as the library validated them, checked against the input.
function validatedClaims(tokens, clientId) {
  check(tokens.token_type === 'bearer', `token_type ${tokens.token_type}`);
  check(typeof tokens.id_token === 'string', 'no id_token');
  const claims = tokens.claims();
  check(claims !== undefined, 'the library returned no ID token claims');
  check(claims.iss === issuer, `iss ${claims.iss}`);
  check(claims.sub === input.user.user_id, `sub ${claims.sub}, expected ${input.user.user_id}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  check(aud.includes(clientId), `aud ${JSON.stringify(claims.aud)} lacks ${clientId}`);
  check(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr ${JSON.stringify(claims.amr)}`);
  check(Number.isInteger(claims.auth_time) && claims.auth_time <= claims.iat, `auth_time ${claims.auth_time}`);
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString('utf8'));
  return {
    claims,
    id_token_alg: header.alg,
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expires_in,
    has_refresh_token: tokens.refresh_token !== undefined,
  };
}

// Poll mode: the request, the library's poll; the user approves once the library's first
// poll was answered `authorization_pending`, and its next poll gets the tokens.
async function pollFlow({ config, log }) {
  const binding = 'W4 & 7';
  const started = await initiate(config, { binding_message: binding });
  check(typeof started.auth_req_id === 'string' && started.auth_req_id.length >= 27, 'auth_req_id');
  check(started.expires_in > 0 && started.interval === 5, `expires_in ${started.expires_in}, interval ${started.interval}`);
  // Extra response members reach the caller: the link for channel `link`.
  const link = new URL(started.auth_link);
  check(link.searchParams.get('auth_req_id') === started.auth_req_id, `auth_link ${started.auth_link}`);
  check(link.searchParams.get('binding_message') === binding, `auth_link ${started.auth_link}`);
  const pending = log.waitFor(started.auth_req_id, 'authorization_pending');
  const polling = client.pollBackchannelAuthenticationGrant(config, started, undefined, {
    signal: AbortSignal.timeout(POLL_DEADLINE_MS),
  });
  await Promise.race([
    pending,
    polling.then(() => {
      throw new CheckFailed('the library got tokens before the decision');
    }),
  ]);
  await decide(started.auth_req_id, true);
  const tokens = await polling;
  const result = validatedClaims(tokens, input.poll_client.client_id);
  // Tokens are handed out once: the library raises the second redemption's error.
  result.second_redemption = await oauthError(
    client.genericGrantRequest(config, CIBA_GRANT, { auth_req_id: started.auth_req_id }),
    'a second redemption',
  );
  result.token_endpoint_answers = log.answers(started.auth_req_id);
  result.expires_in_request = started.expires_in;
  result.interval = started.interval;
  return result;
}

// A denial: the library's poll raises `access_denied`.
async function denialFlow({ config, log }) {
  const started = await initiate(config);
  await decide(started.auth_req_id, false);
  const error = await oauthError(
    client.pollBackchannelAuthenticationGrant(config, started, undefined, { signal: AbortSignal.timeout(POLL_DEADLINE_MS) }),
    'a denied request',
  );
  return { ...error, token_endpoint_answers: log.answers(started.auth_req_id) };
}

// A notification receiver on 127.0.0.1 (port 0): resolves with the first POST /cb.
function notificationReceiver() {
  let resolveFirst;
  const first = new Promise((resolve) => {
    resolveFirst = resolve;
  });
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      resolveFirst({
        method: request.method,
        path: request.url,
        authorization: request.headers.authorization ?? null,
        content_type: request.headers['content-type'] ?? null,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}/cb`, first, close: () => server.close() });
    });
  });
}

// Ping mode: the client is switched to ping with the receiver's URL (admin API), the request
// carries a notification token, and the tokens are fetched with the library's grant request
// once the notification arrived.
async function pingFlow({ config, log }) {
  const receiver = await notificationReceiver();
  try {
    const admin = await clientToken(input.admin);
    await api('PUT', `/cis/v1/applications/${input.ping_client.app_id}/clients/${input.ping_client.client_id}`, {
      bearer: admin,
      json: {
        backchannel_token_delivery_mode: 'ping',
        backchannel_client_notification_endpoint: receiver.url,
      },
    });
    const notificationToken = randomBytes(24).toString('base64url');
    const started = await initiate(config, { client_notification_token: notificationToken });
    await decide(started.auth_req_id, true);
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new CheckFailed(`no notification within ${PING_DEADLINE_MS} ms`)), PING_DEADLINE_MS).unref(),
    );
    const notification = await Promise.race([receiver.first, timeout]);
    check(notification.method === 'POST' && notification.path === '/cb', `notification ${notification.method} ${notification.path}`);
    check(notification.authorization === `Bearer ${notificationToken}`, `notification authorization ${notification.authorization}`);
    check(/^application\/json/.test(notification.content_type ?? ''), `notification content-type ${notification.content_type}`);
    const body = JSON.parse(notification.body);
    check(
      JSON.stringify(Object.keys(body)) === '["auth_req_id"]' && body.auth_req_id === started.auth_req_id,
      `notification body ${notification.body}`,
    );
    const tokens = await client.genericGrantRequest(config, CIBA_GRANT, { auth_req_id: started.auth_req_id });
    const result = validatedClaims(tokens, input.ping_client.client_id);
    result.notification = { authorization_scheme: notification.authorization.split(' ')[0], body };
    result.token_endpoint_answers = log.answers(started.auth_req_id);
    return result;
  } finally {
    receiver.close();
  }
}

async function main() {
  const poll = await configure(input.poll_client, client.ClientSecretBasic);
  const ping = await configure(input.ping_client, client.ClientSecretPost);
  const metadata = poll.config.serverMetadata();
  check(metadata.issuer === issuer, `discovered issuer ${metadata.issuer}`);
  check(
    metadata.backchannel_authentication_endpoint === `${issuer}/oidc/backchannel`,
    `backchannel_authentication_endpoint ${metadata.backchannel_authentication_endpoint}`,
  );
  const unknownUser = await oauthError(
    initiate(poll.config, { login_hint: `nobody-${randomBytes(6).toString('hex')}` }),
    'a request for an unknown user',
  );
  const wrongSecrets = {
    basic: await wrongSecret(input.poll_client, client.ClientSecretBasic),
    post: await wrongSecret(input.ping_client, client.ClientSecretPost),
  };
  // The three flows run at once, so the library's 5 s polling waits overlap.
  const [pollResult, denied, pingResult] = await Promise.all([pollFlow(poll), denialFlow(poll), pingFlow(ping)]);
  return {
    discovery: {
      issuer: metadata.issuer,
      backchannel_authentication_endpoint: metadata.backchannel_authentication_endpoint,
      backchannel_token_delivery_modes_supported: metadata.backchannel_token_delivery_modes_supported,
    },
    unknown_user: unknownUser,
    wrong_secret: wrongSecrets,
    poll: pollResult,
    denied,
    ping: pingResult,
  };
}

const deadline = setTimeout(() => {
  process.stderr.write(`ciba.mjs: the run did not end within ${RUN_DEADLINE_MS} ms\n`);
  process.exit(1);
}, RUN_DEADLINE_MS);
deadline.unref();

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  fail(error);
}
