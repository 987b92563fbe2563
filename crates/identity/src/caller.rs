//! Who is calling: the typed results of authentication, and the proofs operations demand.
//!
//! The gate (`gate.rs`) turns a request's credentials into a [`Caller`] once per request:
//! anonymous, a client token, or a user token (whose session was live and user active when
//! it was checked). An operation that needs a right does not take a caller and check it
//! itself; it takes a proof that only this module can make:
//! - [`Admin`]: a client token of a management-application client;
//! - [`Permit<P>`]: a client token whose client holds permission `P` (admins hold all);
//! - [`UserCaller`]: a live user token;
//! - [`AuthenticatedClient`]: a client that proved its secret at an OAuth endpoint.
//!
//! Their fields are private to this module, so code outside it (the HTTP layer in
//! particular) cannot conjure one: forgetting a check is a compile error. The rules are in
//! one place, [`Caller::admin`] and [`Caller::permit`], and they look at the token's kind
//! first, so a user token never inherits the rights of the client that obtained it.

use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Code, Error};
use crate::model::{ClientRecord, Permission, TokenEndpointAuthMethod};

/// What verifying a bearer token established; cached until the token expires.
#[derive(Debug, Clone)]
pub struct VerifiedAccessToken {
    pub client_id: String,
    pub sub: String,
    pub jti: String,
    pub exp: i64,
    pub scope: Option<String>,
    pub kind: TokenKind,
    pub claims: Map<String, Value>,
}

/// Whose token it is. Client tokens carry no `sid` and their `sub` is the client; user
/// tokens always carry the `sid` of their session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Client,
    User { sid: String },
}

impl VerifiedAccessToken {
    /// The kind of a token with these claims, or `None` when it is neither (a client token
    /// whose `sub` is not its client): such a token is refused.
    pub fn kind_of(claims: &Map<String, Value>, sub: &str, client_id: &str) -> Option<TokenKind> {
        match claims.get("sid") {
            Some(Value::String(sid)) if !sid.is_empty() => {
                Some(TokenKind::User { sid: sid.clone() })
            }
            Some(_) => None,
            None if sub == client_id => Some(TokenKind::Client),
            None => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// A client access token (client credentials grant).
    Client(ClientCaller),
    /// A user access token whose session was live and whose user was active.
    User(UserCaller),
}

/// A verified client access token and its client.
#[derive(Debug, Clone)]
pub struct ClientCaller {
    token: Arc<VerifiedAccessToken>,
    client: Arc<ClientRecord>,
}

/// A verified, live user access token and the client it was issued to.
#[derive(Debug, Clone)]
pub struct UserCaller {
    token: Arc<VerifiedAccessToken>,
    client: Arc<ClientRecord>,
}

/// Proof that the caller is an administrator: a client token of a management-application
/// client.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Arc<ClientRecord>,
}

/// Proof that the caller is a client holding permission `P` (admins hold every permission).
#[derive(Debug)]
pub struct Permit<P> {
    client: Arc<ClientRecord>,
    _permission: PhantomData<P>,
}

impl<P> Clone for Permit<P> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            _permission: PhantomData,
        }
    }
}

/// A client that authenticated with its secret at an OAuth endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    record: Arc<ClientRecord>,
    method: TokenEndpointAuthMethod,
}

/// A permission as a type, for [`Permit`].
pub trait PermissionKind {
    const PERMISSION: Permission;
}

/// The permission types.
pub mod perm {
    use super::PermissionKind;
    use crate::model::Permission;

    /// `users:read`
    #[derive(Debug)]
    pub struct UsersRead;
    /// `users:write`
    #[derive(Debug)]
    pub struct UsersWrite;
    /// `auth`: the backend authentication APIs.
    #[derive(Debug)]
    pub struct Auth;
    /// `auth:direct`: codes and links handed to the caller.
    #[derive(Debug)]
    pub struct AuthDirect;
    /// `sessions`: silent authentication and logout.
    #[derive(Debug)]
    pub struct Sessions;

    impl PermissionKind for UsersRead {
        const PERMISSION: Permission = Permission::UsersRead;
    }
    impl PermissionKind for UsersWrite {
        const PERMISSION: Permission = Permission::UsersWrite;
    }
    impl PermissionKind for Auth {
        const PERMISSION: Permission = Permission::Auth;
    }
    impl PermissionKind for AuthDirect {
        const PERMISSION: Permission = Permission::AuthDirect;
    }
    impl PermissionKind for Sessions {
        const PERMISSION: Permission = Permission::Sessions;
    }
}

fn needs_client_token() -> Error {
    Error::new(Code::Forbidden, "this API needs a client access token")
}

impl Caller {
    /// The caller of a verified token. Only the gate calls this, after checking the
    /// signature, expiry, revocation, the client and (for user tokens) the session and user.
    pub(crate) fn verified(token: Arc<VerifiedAccessToken>, client: Arc<ClientRecord>) -> Self {
        match token.kind {
            TokenKind::Client => Self::Client(ClientCaller { token, client }),
            TokenKind::User { .. } => Self::User(UserCaller { token, client }),
        }
    }

    /// A client access token: 401 without credentials, 403 for a user token.
    pub fn client_token(&self) -> Result<&ClientCaller, Error> {
        match self {
            Self::Anonymous => Err(Code::Unauthorized.into()),
            Self::User(_) => Err(needs_client_token()),
            Self::Client(c) => Ok(c),
        }
    }

    /// Admin rights: a client token whose client belongs to the management application.
    /// The token kind is decided first: a user token is refused whatever its client.
    pub fn admin(&self) -> Result<Admin, Error> {
        let client = self.client_token().map_err(|e| {
            if e.is(Code::Forbidden) {
                Error::new(
                    Code::Forbidden,
                    "this API needs a client token of the management application",
                )
            } else {
                e
            }
        })?;
        if client.client.is_admin() {
            Ok(Admin {
                client: client.client.clone(),
            })
        } else {
            Err(Error::new(
                Code::Forbidden,
                "this API needs a client token of the management application",
            ))
        }
    }

    /// Permission `P`: a client token whose client holds it; admins hold every permission;
    /// user tokens hold none.
    pub fn permit<P: PermissionKind>(&self) -> Result<Permit<P>, Error> {
        let client = self.client_token()?;
        permit_for(&client.client)
    }

    /// A user access token: 401 without credentials; a client token is not one (401
    /// `invalid_token`, as RFC 6750 resource servers answer a token they cannot use).
    pub fn user(&self) -> Result<&UserCaller, Error> {
        match self {
            Self::Anonymous => Err(Code::Unauthorized.into()),
            Self::Client(_) => Err(Error::new(
                Code::InvalidToken,
                "this API needs a user access token",
            )),
            Self::User(u) => Ok(u),
        }
    }
}

fn permit_for<P: PermissionKind>(client: &Arc<ClientRecord>) -> Result<Permit<P>, Error> {
    if client.is_admin() || client.settings().permissions.contains(&P::PERMISSION) {
        Ok(Permit {
            client: client.clone(),
            _permission: PhantomData,
        })
    } else {
        Err(Error::new(
            Code::InsufficientPermissions,
            format!(
                "the client lacks the `{}` permission",
                P::PERMISSION.as_str()
            ),
        ))
    }
}

impl ClientCaller {
    pub fn client(&self) -> &Arc<ClientRecord> {
        &self.client
    }

    pub fn client_id(&self) -> &str {
        self.client.client_id()
    }

    pub fn token(&self) -> &VerifiedAccessToken {
        &self.token
    }
}

impl UserCaller {
    pub fn client(&self) -> &Arc<ClientRecord> {
        &self.client
    }

    pub fn user_id(&self) -> &str {
        &self.token.sub
    }

    pub fn token(&self) -> &VerifiedAccessToken {
        &self.token
    }

    /// The `sid` (session hash) the token carries.
    pub fn session_hash(&self) -> &str {
        match &self.token.kind {
            TokenKind::User { sid } => sid,
            TokenKind::Client => "",
        }
    }
}

impl Admin {
    pub fn client(&self) -> &Arc<ClientRecord> {
        &self.client
    }
}

impl<P: PermissionKind> Permit<P> {
    /// The client the permit was given to (the client the operation acts for).
    pub fn client(&self) -> &Arc<ClientRecord> {
        &self.client
    }

    /// A second permission of the same client (e.g. `auth:direct` on top of `auth`).
    pub fn also<Q: PermissionKind>(&self) -> Result<Permit<Q>, Error> {
        permit_for(&self.client)
    }
}

/// A client named by its public id (the `clientId` of a browser-facing journey call):
/// it exists and is enabled. It proves nothing about who calls — anyone may name a client —
/// so it only selects the client's settings (allowed origins, the code's audience).
#[derive(Debug, Clone)]
pub struct NamedClient {
    record: Arc<ClientRecord>,
}

impl NamedClient {
    /// Only the gate calls this, after looking the client up.
    pub(crate) fn found(record: Arc<ClientRecord>) -> Self {
        Self { record }
    }

    pub fn record(&self) -> &Arc<ClientRecord> {
        &self.record
    }

    pub fn client_id(&self) -> &str {
        self.record.client_id()
    }
}

impl AuthenticatedClient {
    /// Only the gate calls this, after the secret matched.
    pub(crate) fn proven(record: Arc<ClientRecord>, method: TokenEndpointAuthMethod) -> Self {
        Self { record, method }
    }

    pub fn record(&self) -> &Arc<ClientRecord> {
        &self.record
    }

    pub fn client_id(&self) -> &str {
        self.record.client_id()
    }

    /// How it authenticated.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        self.method
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Application, Client, ClientSettings};

    fn record(management: bool, permissions: Vec<Permission>) -> Arc<ClientRecord> {
        let mut settings = ClientSettings::named("c");
        settings.permissions = permissions;
        Arc::new(ClientRecord {
            client: Client {
                client_id: "c1".into(),
                app_id: "a1".into(),
                secret_hash: vec![],
                previous_secret_hash: None,
                previous_secret_expires_at: None,
                settings,
                created_at: 0,
                updated_at: 0,
            },
            app: Application {
                app_id: "a1".into(),
                name: "a".into(),
                description: None,
                management,
                default_client_id: None,
                created_at: 0,
                updated_at: 0,
            },
        })
    }

    fn token(kind: TokenKind) -> Arc<VerifiedAccessToken> {
        Arc::new(VerifiedAccessToken {
            client_id: "c1".into(),
            sub: match kind {
                TokenKind::Client => "c1".into(),
                TokenKind::User { .. } => "u1".into(),
            },
            jti: "j".into(),
            exp: 0,
            scope: None,
            kind,
            claims: Map::new(),
        })
    }

    fn user_kind() -> TokenKind {
        TokenKind::User { sid: "s".into() }
    }

    /// The account takeover of the domain-core issue: a user token of an admin client.
    #[test]
    fn a_user_token_of_an_admin_client_gets_no_right() {
        let caller = Caller::verified(token(user_kind()), record(true, vec![]));
        assert_eq!(caller.admin().unwrap_err().code(), Code::Forbidden);
        assert_eq!(
            caller.permit::<perm::UsersRead>().unwrap_err().code(),
            Code::Forbidden
        );
        assert_eq!(caller.client_token().unwrap_err().code(), Code::Forbidden);
        assert!(caller.user().is_ok());
    }

    #[test]
    fn admins_hold_every_permission_and_clients_only_theirs() {
        let admin = Caller::verified(token(TokenKind::Client), record(true, vec![]));
        assert!(admin.admin().is_ok());
        let p = admin.permit::<perm::Auth>().unwrap();
        assert!(p.also::<perm::AuthDirect>().is_ok());

        let client = Caller::verified(
            token(TokenKind::Client),
            record(false, vec![Permission::Auth]),
        );
        assert_eq!(client.admin().unwrap_err().code(), Code::Forbidden);
        let p = client.permit::<perm::Auth>().unwrap();
        assert_eq!(
            p.also::<perm::AuthDirect>().unwrap_err().code(),
            Code::InsufficientPermissions
        );
        assert_eq!(
            client.permit::<perm::UsersWrite>().unwrap_err().code(),
            Code::InsufficientPermissions
        );
        assert_eq!(client.user().unwrap_err().code(), Code::InvalidToken);
    }

    #[test]
    fn anonymous_callers_are_asked_for_a_token() {
        let c = Caller::Anonymous;
        assert_eq!(c.admin().unwrap_err().code(), Code::Unauthorized);
        assert_eq!(
            c.permit::<perm::Sessions>().unwrap_err().code(),
            Code::Unauthorized
        );
        assert_eq!(c.user().unwrap_err().code(), Code::Unauthorized);
    }

    #[test]
    fn token_kinds_come_from_sid_and_sub() {
        let mut claims = Map::new();
        assert_eq!(
            VerifiedAccessToken::kind_of(&claims, "c", "c"),
            Some(TokenKind::Client)
        );
        assert_eq!(VerifiedAccessToken::kind_of(&claims, "u", "c"), None);
        claims.insert("sid".into(), Value::String("s1".into()));
        assert_eq!(
            VerifiedAccessToken::kind_of(&claims, "u", "c"),
            Some(TokenKind::User { sid: "s1".into() })
        );
        claims.insert("sid".into(), Value::Bool(true));
        assert_eq!(VerifiedAccessToken::kind_of(&claims, "u", "c"), None);
    }
}
