//! [`Grants`]: the OAuth 2.0 token endpoint's grants as one type. The HTTP layer parses the
//! form into a [`Grant`] ([`Grant::parse`]) and calls [`Grants::token`] with the client the
//! gate authenticated; it never matches on `grant_type` itself. A new grant (the CIBA grant,
//! `authorization_code`) is a new variant here and its arm in `token`.

use std::sync::Arc;

use crate::auth_codes::{AuthorizationCodes, CodeRedemption};
use crate::caller::AuthenticatedClient;
use crate::ciba::{Ciba, CIBA_GRANT_TYPE};
use crate::error::{Code, Error};
use crate::issuer::{IssuedTokens, TokenIssuer};
use crate::logins::Logins;
use crate::model::TokenEndpointAuthMethod;

/// The parameters of a token request (form fields; a parameter may appear at most once
/// unless read with [`GrantParams::all`]).
pub trait GrantParams {
    /// The value of a parameter that must not repeat (`invalid_request` if it does); an
    /// empty value counts as absent.
    fn single(&self, name: &str) -> Result<Option<&str>, Error>;
    /// Every value of a parameter that may repeat (`resource`, RFC 8707).
    fn all(&self, name: &str) -> Vec<String>;
}

/// A grant request.
#[derive(PartialEq, Eq)]
pub enum Grant {
    /// RFC 6749 §4.4.
    ClientCredentials {
        scope: Option<String>,
        resources: Vec<String>,
    },
    /// RFC 6749 §6.
    RefreshToken { refresh_token: String },
    /// CIBA Core §10.1: the poll for a backchannel request's tokens.
    Ciba { auth_req_id: String },
    /// RFC 6749 §4.1.3 with RFC 7636: a code from a completed client journey.
    AuthorizationCode {
        code: String,
        code_verifier: Option<String>,
        redirect_uri: Option<String>,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `grant_type`s the token endpoint serves (discovery lists them).
pub const GRANT_TYPES: [&str; 4] = [
    "client_credentials",
    "refresh_token",
    CIBA_GRANT_TYPE,
    "authorization_code",
];

impl Grant {
    /// The grant a token request asks for.
    pub fn parse(params: &dyn GrantParams) -> Result<Self, Error> {
        let grant_type = params
            .single("grant_type")?
            .ok_or_else(|| Error::invalid("`grant_type` is required"))?;
        match grant_type {
            "client_credentials" => Ok(Self::ClientCredentials {
                scope: params.single("scope")?.map(str::to_string),
                resources: params.all("resource"),
            }),
            "refresh_token" => Ok(Self::RefreshToken {
                refresh_token: params
                    .single("refresh_token")?
                    .ok_or_else(|| Error::invalid("`refresh_token` is required"))?
                    .to_string(),
            }),
            CIBA_GRANT_TYPE => Ok(Self::Ciba {
                auth_req_id: params
                    .single("auth_req_id")?
                    .ok_or_else(|| Error::invalid("`auth_req_id` is required"))?
                    .to_string(),
            }),
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: params
                    .single("code")?
                    .ok_or_else(|| Error::invalid("`code` is required"))?
                    .to_string(),
                code_verifier: params.single("code_verifier")?.map(str::to_string),
                redirect_uri: params.single("redirect_uri")?.map(str::to_string),
            }),
            _ => Err(Code::UnsupportedGrantType.into()),
        }
    }

    /// The `grant_type` value (metrics label).
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClientCredentials { .. } => "client_credentials",
            Self::RefreshToken { .. } => "refresh_token",
            Self::Ciba { .. } => "ciba",
            Self::AuthorizationCode { .. } => "authorization_code",
        }
    }
}

pub struct Grants {
    issuer: Arc<TokenIssuer>,
    logins: Arc<Logins>,
    ciba: Arc<Ciba>,
    codes: Arc<AuthorizationCodes>,
}

impl Grants {
    pub fn new(
        issuer: Arc<TokenIssuer>,
        logins: Arc<Logins>,
        ciba: Arc<Ciba>,
        codes: Arc<AuthorizationCodes>,
    ) -> Self {
        Self {
            issuer,
            logins,
            ciba,
            codes,
        }
    }

    /// Issues the tokens of `grant` to `client`.
    pub async fn token(
        &self,
        client: &AuthenticatedClient,
        grant: Grant,
    ) -> Result<IssuedTokens, Error> {
        let public = client.method() == TokenEndpointAuthMethod::None;
        if public
            && !matches!(
                grant,
                Grant::AuthorizationCode { .. } | Grant::RefreshToken { .. }
            )
        {
            return Err(Error::new(
                Code::UnauthorizedClient,
                "a public client may only use the authorization_code and refresh_token grants",
            ));
        }
        match grant {
            Grant::ClientCredentials { scope, resources } => {
                self.issuer
                    .client_token(client.record(), scope.as_deref(), &resources)
            }
            Grant::RefreshToken { refresh_token } => {
                self.logins.refresh(client.record(), &refresh_token).await
            }
            Grant::Ciba { auth_req_id } => self.ciba.poll(client.record(), &auth_req_id).await,
            Grant::AuthorizationCode {
                code,
                code_verifier,
                redirect_uri,
            } => {
                self.codes
                    .exchange(
                        client.record(),
                        CodeRedemption {
                            code: &code,
                            code_verifier: code_verifier.as_deref(),
                            redirect_uri: redirect_uri.as_deref(),
                            public_client: public,
                        },
                    )
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Params(HashMap<&'static str, Vec<&'static str>>);

    impl GrantParams for Params {
        fn single(&self, name: &str) -> Result<Option<&str>, Error> {
            match self.0.get(name).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([one]) => Ok(Some(one)),
                Some(_) => Err(Error::invalid("repeated")),
            }
        }

        fn all(&self, name: &str) -> Vec<String> {
            self.0
                .get(name)
                .map(|v| v.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        }
    }

    fn params(pairs: &[(&'static str, &'static str)]) -> Params {
        let mut m: HashMap<_, Vec<_>> = HashMap::new();
        for (k, v) in pairs {
            m.entry(*k).or_default().push(*v);
        }
        Params(m)
    }

    #[test]
    fn grants_parse_from_their_parameters() {
        assert_eq!(
            Grant::parse(&params(&[
                ("grant_type", "client_credentials"),
                ("resource", "https://a"),
                ("resource", "https://b"),
            ]))
            .unwrap(),
            Grant::ClientCredentials {
                scope: None,
                resources: vec!["https://a".into(), "https://b".into()]
            }
        );
        let e = Grant::parse(&params(&[("grant_type", "refresh_token")])).unwrap_err();
        assert_eq!(e.code(), Code::InvalidRequest);
        let e = Grant::parse(&params(&[("grant_type", "password")])).unwrap_err();
        assert_eq!(e.code(), Code::UnsupportedGrantType);
        assert_eq!(
            Grant::parse(&params(&[
                ("grant_type", CIBA_GRANT_TYPE),
                ("auth_req_id", "abc"),
            ]))
            .unwrap(),
            Grant::Ciba {
                auth_req_id: "abc".into()
            }
        );
        let e = Grant::parse(&params(&[("grant_type", CIBA_GRANT_TYPE)])).unwrap_err();
        assert_eq!(e.code(), Code::InvalidRequest);
        let e = Grant::parse(&params(&[])).unwrap_err();
        assert_eq!(e.code(), Code::InvalidRequest);
    }
}
