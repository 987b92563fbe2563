// node-oidc-provider peer for Tessera's benchmark (SPEC §10).
//
// Configured the same way as Tessera for the client_credentials scenario:
//   - one client, grant client_credentials only, token_endpoint_auth_method client_secret_post
//   - RFC 9068 JWT access tokens signed ES256 with a key generated at start
//   - audience "userid-api" and the same extra claims Tessera puts in client tokens
//     (app_id, app_name, roles) so the tokens are of comparable size
//
// Usage:
//   node server.mjs [--port N] [--host H] [--client-id ID] [--client-secret SECRET]
// or env PORT, HOST, CLIENT_ID, CLIENT_SECRET. Token endpoint: POST /token.
// Pass --self-check to start, issue one token, verify it is an ES256 at+jwt, and exit.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

process.env.NODE_ENV ??= 'production';

const { Provider } = await import('oidc-provider');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'self-check': { type: 'boolean', default: false },
  },
});

const port = Number(args.port ?? process.env.PORT ?? 3000);
const host = args.host ?? process.env.HOST ?? '127.0.0.1';
const clientId = args['client-id'] ?? process.env.CLIENT_ID ?? 'bench-client';
const clientSecret = args['client-secret'] ?? process.env.CLIENT_SECRET
  ?? crypto.randomBytes(32).toString('base64url');
const issuer = `http://${host}:${port}`;

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

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256', // the only key is ES256 (no ID tokens are issued here)
  }],
  clientAuthMethods: ['client_secret_post'],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
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
  ttl: { ClientCredentials: 3600 },
});
provider.proxy = false;

// Log minimal: only server errors.
provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

const server = provider.listen(port, host, () => {
  if (!args['self-check']) {
    console.log(`node-oidc-provider peer listening on ${issuer} (token endpoint ${issuer}/token, client_id ${clientId})`);
  }
});
server.keepAliveTimeout = 65_000;

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
  } catch (e) {
    console.error(e);
  }
  console.log(ok ? 'self-check OK: ES256 at+jwt access token' : 'self-check FAILED');
  server.close();
  process.exit(ok ? 0 : 1);
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
