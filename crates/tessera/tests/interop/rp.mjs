// A relying party built with the npm package `openid-client` (v6): the OpenID Connect
// authorization code flow with PKCE against Tessera's hosted login, then userinfo and
// RP-initiated logout. Node's own `http` module, no framework.
//
//   GET /            a status page (signed in or not)
//   GET /login       buildAuthorizationUrl (PKCE S256, state, nonce) → 302 to the issuer
//   GET /callback    authorizationCodeGrant (state, nonce, iss per RFC 9207, the ID token's
//                    signature and claims, all checked by the library) → fetchUserInfo → a
//                    page with the user's sub
//   GET /logout      buildEndSessionUrl (id_token_hint, post_logout_redirect_uri, state) → 302
//   GET /logged-out  the end-session redirect back: state checked, the local session dropped
//
// The per-browser state (state, nonce, PKCE verifier, then the ID token and claims) lives in
// an in-memory map keyed by a random cookie `rp_<port>` (ports do not separate cookies, so
// every RP on 127.0.0.1 names its own).
//
// Settings, as flags or environment variables:
//   --issuer URL        RP_ISSUER         the issuer (discovery at URL/.well-known/openid-configuration)
//   --client-id ID      RP_CLIENT_ID
//   --client-secret S   RP_CLIENT_SECRET  a confidential client (HTTP Basic, or the form
//                                         with --client-auth post); `none` or absent: a
//                                         public client (token_endpoint_auth_method none)
//   --client-auth M     RP_CLIENT_AUTH    basic (default) or post
//   --port N            RP_PORT           0 (default): any free port
//   --name NAME         RP_NAME           shown on the pages (default "rp")
//   --scope S           RP_SCOPE          default "openid profile email"
//
// On start it prints `{"port": N, "redirect_uri": …, "post_logout_redirect_uri": …}` as its
// first stdout line, then one JSON line per completed login or logout (for tests and logs).
// Plain http is allowed (the library's `allowInsecureRequests`) only for a loopback issuer.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const { values: flags } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'client-auth': { type: 'string' },
    port: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string' },
  },
});

function setting(flag, env, fallback) {
  const value = flags[flag] ?? process.env[env];
  return value === undefined || value === '' ? fallback : value;
}

function die(message) {
  process.stderr.write(`rp.mjs: ${message}\n`);
  process.exit(1);
}

const issuerText = setting('issuer', 'RP_ISSUER');
const clientId = setting('client-id', 'RP_CLIENT_ID');
const secretText = setting('client-secret', 'RP_CLIENT_SECRET', 'none');
const clientAuth = setting('client-auth', 'RP_CLIENT_AUTH', 'basic');
const port = Number(setting('port', 'RP_PORT', '0'));
const name = setting('name', 'RP_NAME', 'rp');
const scope = setting('scope', 'RP_SCOPE', 'openid profile email');
if (!issuerText) die('--issuer (or RP_ISSUER) is required');
if (!clientId) die('--client-id (or RP_CLIENT_ID) is required');
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`--port: not a port: ${port}`);
if (!['basic', 'post'].includes(clientAuth)) die(`--client-auth: basic or post, not ${clientAuth}`);

const issuer = new URL(issuerText);
const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
if (issuer.protocol !== 'https:' && !loopback) die(`the issuer must be https unless on loopback: ${issuer}`);

const publicClient = secretText === 'none';
const authentication = publicClient
  ? client.None()
  : clientAuth === 'post'
    ? client.ClientSecretPost(secretText)
    : client.ClientSecretBasic(secretText);

let config;
try {
  config = await client.discovery(
    issuer,
    clientId,
    // Tessera's ID tokens always carry auth_time; the library then insists on it.
    { require_auth_time: true },
    authentication,
    // The library refuses plain http unless told; only for the loopback issuer.
    issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
  );
} catch (error) {
  die(`discovery of ${issuer} failed: ${error?.name}: ${error?.message}`);
}

// cookie value → { state, nonce, verifier } while logging in; then the signed-in user.
const sessions = new Map();
let cookieName = 'rp';
let base = '';

function randomId() {
  return randomBytes(24).toString('base64url');
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(response, status, title, body, headers = {}) {
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
      `<body><h1 id="title">${escapeHtml(title)}</h1><p id="rp">${escapeHtml(name)}</p>${body}</body></html>`,
  );
}

function redirect(response, location, headers = {}) {
  response.writeHead(302, { location: String(location), 'cache-control': 'no-store', ...headers });
  response.end();
}

function cookieOf(request) {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === cookieName) return rest.join('=');
  }
  return undefined;
}

function setCookie(id) {
  return `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax`;
}

function errorDetail(error) {
  const parts = [];
  // The library wraps the reason (oauth4webapi's error) in `cause`, whose message says what
  // failed (e.g. "unexpected JWT "nonce" (nonce) claim value").
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; e = e.cause, depth += 1) {
    if (typeof e !== 'object') {
      parts.push(String(e));
      break;
    }
    let part = `${e.name ?? 'Error'}: ${e.message ?? ''}`;
    if (e.code) part += ` (${e.code})`;
    if (e.error) part += ` error=${e.error} ${e.error_description ?? ''}`;
    parts.push(part);
  }
  return parts.join(' <- ');
}

function log(event) {
  process.stdout.write(`${JSON.stringify({ rp: name, ...event })}\n`);
}

async function login(request, response) {
  const id = randomId();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  sessions.set(id, { state, nonce, verifier });
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${base}/callback`,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  redirect(response, url, { 'set-cookie': setCookie(id) });
}

async function callback(request, response, current) {
  const id = cookieOf(request);
  const pending = id === undefined ? undefined : sessions.get(id);
  if (pending?.verifier === undefined) {
    page(response, 400, 'No login in progress', '<p id="error">no login in progress for this browser</p>');
    return;
  }
  // The authorization response is single use either way.
  sessions.delete(id);
  let tokens;
  let userinfo;
  try {
    tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  } catch (error) {
    log({ event: 'callback_failed', error: errorDetail(error) });
    page(response, 502, 'Login failed', `<p id="error">${escapeHtml(errorDetail(error))}</p>`);
    return;
  }
  const claims = tokens.claims();
  const signedIn = { idToken: tokens.id_token, claims, userinfo };
  const next = randomId();
  sessions.set(next, signedIn);
  log({ event: 'login', sub: claims.sub, sid: claims.sid ?? null, iss_param: current.searchParams.get('iss') });
  page(
    response,
    200,
    'Signed in',
    `<p id="marker">signed in to ${escapeHtml(name)}</p>` +
      `<p>sub: <span id="sub">${escapeHtml(claims.sub)}</span></p>` +
      `<p>iss parameter: <span id="iss-param">${escapeHtml(current.searchParams.get('iss') ?? '')}</span></p>` +
      `<pre id="claims">${escapeHtml(JSON.stringify(claims))}</pre>` +
      `<pre id="userinfo">${escapeHtml(JSON.stringify(userinfo))}</pre>` +
      '<p><a id="logout" href="/logout">Log out</a></p>',
    // A new cookie value after login (the old one named the pending request).
    { 'set-cookie': setCookie(next) },
  );
}

function logout(request, response) {
  const id = cookieOf(request);
  const signedIn = id === undefined ? undefined : sessions.get(id);
  if (signedIn?.idToken === undefined) {
    page(response, 400, 'Not signed in', '<p id="error">not signed in</p>');
    return;
  }
  const state = client.randomState();
  signedIn.logoutState = state;
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: signedIn.idToken,
    post_logout_redirect_uri: `${base}/logged-out`,
    state,
  });
  redirect(response, url);
}

function loggedOut(request, response, current) {
  const id = cookieOf(request);
  const signedIn = id === undefined ? undefined : sessions.get(id);
  const state = current.searchParams.get('state');
  if (signedIn?.logoutState === undefined || state !== signedIn.logoutState) {
    page(response, 400, 'Unexpected logout', `<p id="error">state ${escapeHtml(state ?? '(none)')} is not the one sent</p>`);
    return;
  }
  sessions.delete(id);
  log({ event: 'logout', sub: signedIn.claims.sub });
  page(response, 200, 'Signed out', `<p id="logged-out">signed out of ${escapeHtml(name)}</p>`, {
    'set-cookie': `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
  });
}

function home(request, response) {
  const id = cookieOf(request);
  const signedIn = id === undefined ? undefined : sessions.get(id);
  if (signedIn?.claims) {
    page(response, 200, 'Signed in', `<p>sub: <span id="sub">${escapeHtml(signedIn.claims.sub)}</span></p><p><a id="logout" href="/logout">Log out</a></p>`);
  } else {
    page(response, 200, 'Not signed in', '<p><a id="login" href="/login">Log in</a></p>');
  }
}

const server = createServer((request, response) => {
  const current = new URL(request.url ?? '/', base);
  const handle = async () => {
    if (request.method !== 'GET') {
      page(response, 405, 'Method not allowed', '');
      return;
    }
    switch (current.pathname) {
      case '/':
        return home(request, response);
      case '/login':
        return login(request, response);
      case '/callback':
        return callback(request, response, current);
      case '/logout':
        return logout(request, response);
      case '/logged-out':
        return loggedOut(request, response, current);
      default:
        page(response, 404, 'Not found', '');
    }
  };
  handle().catch((error) => {
    log({ event: 'error', path: current.pathname, error: errorDetail(error) });
    if (!response.headersSent) page(response, 500, 'Error', `<p id="error">${escapeHtml(errorDetail(error))}</p>`);
  });
});

server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  base = `http://127.0.0.1:${actual}`;
  cookieName = `rp_${actual}`;
  process.stdout.write(
    `${JSON.stringify({ port: actual, redirect_uri: `${base}/callback`, post_logout_redirect_uri: `${base}/logged-out` })}\n`,
  );
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
