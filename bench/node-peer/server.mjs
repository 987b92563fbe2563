// node-oidc-provider peer for Tessera's benchmark (SPEC §10).
//
// Configured the same way as Tessera for the client_credentials scenario:
//   - one client, grant client_credentials only, token_endpoint_auth_method client_secret_post
//   - RFC 9068 JWT access tokens signed ES256 with a key generated at start
//   - audience "userid-api" and the same extra claims Tessera puts in client tokens
//     (app_id, app_name, roles) so the tokens are of comparable size
//
// And for the ciba scenario, CIBA in poll mode (`features.ciba`), like Tessera's:
//   - a second client `<client-id>-ciba` (same secret, client_secret_post) with the grant
//     urn:openid:params:grant-type:ciba, poll mode, ES256 ID tokens
//   - users `bench-user-<n>`: a login_hint of that form names an account, anything else is
//     unknown_user_id; nothing is sent to the user (Tessera's `channel: link` sends nothing
//     either)
//   - `POST /bench/ciba/approve {"auth_req_id": "..."}`: the user's approval, the work a real
//     approval does once the user is authenticated: find the pending request, create and save
//     a Grant for its account, client and scope, record it with provider.backchannelResult
//
// And for the sso_code_flow scenario, the authorization code flow with an existing session:
//   - a third client `<client-id>-code` (same secret, client_secret_post) with the grant
//     authorization_code, response type code, redirect URI https://bench.invalid/cb (never
//     followed: the driver reads the code from the Location header), PKCE S256, ES256 ID
//     tokens, JWT access tokens for userid-api like the other clients
//   - devInteractions enabled: its login form (`POST /interaction/:uid` with prompt=login and
//     login=<account>) creates the session once per driver worker; the grant is created by
//     loadExistingGrant for that client (Tessera has no consent step), so `prompt=none` with
//     the session cookie answers a code straight away
//
// Usage:
//   node server.mjs [--port N] [--host H] [--client-id ID] [--client-secret SECRET]
// or env PORT, HOST, CLIENT_ID, CLIENT_SECRET. Token endpoint: POST /token, backchannel
// authentication endpoint: POST /backchannel.
// Pass --self-check to start, issue one token, verify it is an ES256 at+jwt, run one CIBA
// request → approval → poll, and exit.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

process.env.NODE_ENV ??= 'production';

const { Provider, errors } = await import('oidc-provider');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'self-check': { type: 'boolean', default: false },
    // Serve https with these PEM files (the client_credentials_tls scenario).
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});

const port = Number(args.port ?? process.env.PORT ?? 3000);
const host = args.host ?? process.env.HOST ?? '127.0.0.1';
const clientId = args['client-id'] ?? process.env.CLIENT_ID ?? 'bench-client';
const clientSecret = args['client-secret'] ?? process.env.CLIENT_SECRET
  ?? crypto.randomBytes(32).toString('base64url');
const tls = args['tls-cert'] && args['tls-key'];
const issuer = `${tls ? 'https' : 'http'}://${host}:${port}`;

// ES256 signing key, generated at start and exported as a private JWK.
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: crypto.randomBytes(8).toString('hex'),
  alg: 'ES256',
  use: 'sig',
};

// oidc-provider requires the resource indicator to be an absolute URI; the token's aud is
// the resource server's `audience`, 'userid-api' as in Tessera.
const RESOURCE = 'urn:tessera:userid-api';
const AUDIENCE = 'userid-api';
const resourceServer = {
  scope: '',
  audience: AUDIENCE,
  accessTokenFormat: 'jwt',
  accessTokenTTL: 3600,
  jwt: { sign: { alg: 'ES256' } },
};

// CIBA (the ciba scenario). Accounts are bench-user-<n>; the default findAccount resolves
// any account id.
const cibaClientId = `${clientId}-ciba`;
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const BENCH_USER = /^bench-user-[0-9]{1,9}$/;

// The authorization code flow (the sso_code_flow scenario).
const codeClientId = `${clientId}-code`;
const CODE_REDIRECT_URI = 'https://bench.invalid/cb';

const provider = new Provider(issuer, {
  clients: [{
    client_id: cibaClientId,
    client_secret: clientSecret,
    grant_types: [CIBA_GRANT],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    backchannel_token_delivery_mode: 'poll',
    id_token_signed_response_alg: 'ES256',
    require_auth_time: true, // Tessera's ID tokens carry auth_time

  }, {
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256', // the only key is ES256 (no ID tokens are issued here)
  }, {
    client_id: codeClientId,
    client_secret: clientSecret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [CODE_REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    require_auth_time: true,
  }],
  clientAuthMethods: ['client_secret_post'],
  // The code client's users consent implicitly (Tessera has no consent step): a grant for
  // the requested scope and the access token's resource, made when none exists yet.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (ctx.oidc.client.clientId !== codeClientId || !ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: codeClientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(RESOURCE, '');
    await grant.save();
    ctx.oidc.session.ensureClientContainer(codeClientId);
    ctx.oidc.session.grantIdFor(codeClientId, grant.jti);
    return grant;
  },
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    // The sso_code_flow scenario logs each driver worker in once with its form.
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    ciba: {
      enabled: true,
      deliveryModes: ['poll'],
      // The hint names an account, or nobody (unknown_user_id).
      processLoginHint: async (ctx, loginHint) => (BENCH_USER.test(loginHint) ? loginHint : undefined),
      processLoginHintToken: async () => undefined,
      // No user_code: its presence is an error, as for a Tessera client.
      verifyUserCode: async (ctx, account, userCode) => {
        if (userCode) throw new errors.InvalidRequest('user_code is not supported');
      },
      // Tessera's rule: at most 64 characters, no control characters.
      validateBindingMessage: async (ctx, bindingMessage) => {
        // eslint-disable-next-line no-control-regex
        if (bindingMessage !== undefined && (bindingMessage.length > 64 || /[\u0000-\u001f\u007f]/.test(bindingMessage))) {
          throw new errors.InvalidBindingMessage('binding_message must be at most 64 characters without control characters');
        }
      },
      // A JSON object, when given.
      validateRequestContext: async (ctx, requestContext) => {
        if (requestContext === undefined) return;
        let parsed;
        try { parsed = JSON.parse(requestContext); } catch { parsed = undefined; }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new errors.InvalidRequest('request_context must be a JSON object');
        }
      },
      // The link is handed back, not sent: nothing to trigger.
      triggerAuthenticationDevice: async () => {},
    },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => resourceServer,
    },
  },
  // Same extra claims as a Tessera client token (app_id, app_name, roles).
  extraTokenClaims: async () => ({ app_id: 'bench-app', app_name: 'bench', roles: [] }),
  // Tessera's defaults: a CIBA request lives 300 s, tokens an hour.
  ttl: {
    ClientCredentials: 3600,
    BackchannelAuthenticationRequest: 300,
    Grant: 3600,
    AccessToken: 3600,
    IdToken: 3600,
  },
});
provider.proxy = false;

// POST /bench/ciba/approve {"auth_req_id": "..."}: the user approves (see the top).
async function readJson(req, limit = 4096) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/ciba/approve') return next();
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    ctx.body = { error: 'method_not_allowed' };
    return undefined;
  }
  let body;
  try {
    body = await readJson(ctx.req);
  } catch {
    body = undefined;
  }
  const id = body?.auth_req_id;
  if (typeof id !== 'string' || !id) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'auth_req_id (a string) is required' };
    return undefined;
  }
  const request = await provider.BackchannelAuthenticationRequest.find(id);
  if (!request || request.grantId || request.error || request.consumed) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_auth_req_id' };
    return undefined;
  }
  const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
  grant.addOIDCScope(request.scope);
  if (request.resource) {
    for (const resource of [request.resource].flat()) grant.addResourceScope(resource, request.scope);
  }
  await grant.save();
  await provider.backchannelResult(request, grant, {
    amr: ['otp'],
    authTime: Math.floor(Date.now() / 1000),
  });
  ctx.status = 200;
  ctx.body = { status: 'approved' };
  return undefined;
});

// Log minimal: only server errors.
provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

const onListening = () => {
  if (!args['self-check']) {
    console.log(`node-oidc-provider peer listening on ${issuer} (token endpoint ${issuer}/token, client_id ${clientId})`);
  }
};
const server = tls
  ? (await import('node:https')).createServer({
    cert: (await import('node:fs')).readFileSync(args['tls-cert']),
    key: (await import('node:fs')).readFileSync(args['tls-key']),
  }, provider.callback()).listen(port, host, onListening)
  : provider.listen(port, host, onListening);
server.keepAliveTimeout = 65_000;

// One CIBA round: backchannel request, pending poll, approval, tokens on the next poll, then
// the request is spent; an unknown hint is unknown_user_id.
async function cibaSelfCheck(base) {
  const form = (path, fields) => fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: cibaClientId, client_secret: clientSecret, ...fields }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const unknown = await form('/backchannel', { scope: 'openid', login_hint: 'nobody' });
  const request = await form('/backchannel', { scope: 'openid', login_hint: 'bench-user-1' });
  const id = request.body.auth_req_id;
  const pending = await form('/token', { grant_type: CIBA_GRANT, auth_req_id: id });
  const approve = await fetch(`${base}/bench/ciba/approve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth_req_id: id }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const tokens = await form('/token', { grant_type: CIBA_GRANT, auth_req_id: id });
  const again = await form('/token', { grant_type: CIBA_GRANT, auth_req_id: id });
  const idToken = tokens.body.id_token
    && JSON.parse(Buffer.from(tokens.body.id_token.split('.')[1], 'base64url').toString());
  const atHeader = tokens.body.access_token?.includes('.')
    && JSON.parse(Buffer.from(tokens.body.access_token.split('.')[0], 'base64url').toString());
  console.log(JSON.stringify({ unknown, request: request.status, pending, approve, tokens: tokens.status, idToken, atHeader, again }, null, 2));
  return unknown.body.error === 'unknown_user_id'
    && request.status === 200 && typeof id === 'string'
    && pending.body.error === 'authorization_pending'
    && approve.status === 200
    && tokens.status === 200 && idToken?.sub === 'bench-user-1' && typeof idToken.auth_time === 'number'
    && again.body.error === 'invalid_grant';
}

if (args['self-check']) {
  await new Promise((resolve) => server.once('listening', resolve));
  let ok = false;
  try {
    const res = await fetch(`http://${host}:${server.address().port}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
      }),
    });
    const body = await res.json();
    if (!body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    const [h, p] = body.access_token.split('.').slice(0, 2)
      .map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()));
    // Verify the signature with the public key too.
    const [hh, pp, sig] = body.access_token.split('.');
    const verified = crypto.verify(
      'sha256',
      Buffer.from(`${hh}.${pp}`),
      { key: crypto.createPublicKey(privateKey), dsaEncoding: 'ieee-p1363' },
      Buffer.from(sig, 'base64url'),
    );
    console.log(JSON.stringify({ status: res.status, response: { ...body, access_token: '…' }, header: h, payload: p, verified }, null, 2));
    ok = res.status === 200 && h.alg === 'ES256' && h.typ === 'at+jwt' && p.aud === AUDIENCE && verified;
    if (ok) ok = await cibaSelfCheck(`http://${host}:${server.address().port}`);
  } catch (e) {
    console.error(e);
  }
  console.log(ok ? 'self-check OK: ES256 at+jwt access token; CIBA request, approval, poll' : 'self-check FAILED');
  server.close();
  process.exit(ok ? 0 : 1);
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
