// A real OpenID Provider for breastgate's SSO tests: panva/oidc-provider with one confidential
// client (authorization code + PKCE S256), RS256 ID tokens signed with a key made at start, and
// a few accounts whose claims carry roles the way hospital IdPs do (a `roles` list, Keycloak's
// `realm_access.roles`). The login and consent pages are the library's development interactions
// (any password; the login names the account), which the tests drive with httpx.
//
// Environment: PORT, and CLIENTS: a JSON list of {client_id, client_secret, redirect_uris,
// post_logout_redirect_uris}. Prints "ready <issuer>" when listening.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = {
  alice: { preferred_username: 'alice', name: 'Alice Reader', roles: ['breast-radiologist'] },
  tom: { preferred_username: 'tom', roles: 'mammo-tech, it-staff' },
  kate: { preferred_username: 'kate', realm_access: { roles: ['auditor', 'offline_access'] } },
  bob: { preferred_username: 'bob', roles: ['visitor'] },
  dave: { preferred_username: 'dave', roles: ['breast-radiologist'] },
  admin: { preferred_username: 'admin', roles: ['breast-radiologist'] },
  nameless: { roles: ['breast-radiologist'] },
  // Roles only at the userinfo endpoint, not in the ID token (as Keycloak's default client scopes).
  uma: { preferred_username: 'uma', roles: ['mammo-tech'], userinfoOnly: ['roles'] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: JSON.parse(process.env.CLIENTS).map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [signing] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'profile', 'roles'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    roles: ['roles', 'realm_access'],
  },
  // Claims in the ID token as Keycloak and Entra ID put them there (not only at userinfo).
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    const { userinfoOnly = [], ...all } = claims;
    return {
      accountId: id,
      claims: async (use) => Object.fromEntries(
        Object.entries({ sub: id, ...all }).filter(([name]) => use === 'userinfo' || !userinfoOnly.includes(name)),
      ),
    };
  },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 300, Session: 600, Grant: 600 },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
