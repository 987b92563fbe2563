//! Logout (`logout.rs`): RP-initiated logout ends the browser session its `id_token_hint`
//! names when that is the cookie's, asks otherwise (a sealed, CSRF-bound confirmation), never
//! redirects to an unregistered URI; every end of a browser session queues a signed
//! back-channel logout token for each client of the session that registered a URI, retried
//! with backoff and signed again at each attempt.

use serde_json::{json, Value};
use tessera_identity::deliveries::{BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYP};
use tessera_identity::logout::{EndSession, EndSessionRequest, PendingLogout, CONFIRM_TTL_S};
use tessera_identity::{perm, Code, Error};

use crate::fixture::{backends, claims, Fixture, TestClient, ISSUER, T0_S};

const BYE: &str = "https://rp.test/bye";
const BC_URI: &str = "https://rp.test/backchannel";

struct Browser {
    client: TestClient,
    user_id: String,
    cookie: String,
    id_token: String,
    refresh_token: String,
    access_token: String,
}

async fn browser(fx: &Fixture, overrides: Value) -> Browser {
    let mut settings = json!({"post_logout_redirect_uris": [BYE]});
    crate::fixture::merge(&mut settings, overrides);
    let client = fx.client(settings).await;
    let user = fx.user("ann@example.test").await;
    let (cookie, tokens) = fx
        .identity
        .test_browser_login(&client.client_id, &user.user_id)
        .await
        .unwrap();
    Browser {
        client,
        user_id: user.user_id,
        cookie,
        id_token: tokens.id_token.unwrap(),
        refresh_token: tokens.refresh_token.unwrap(),
        access_token: tokens.access_token,
    }
}

fn request(hint: Option<&str>, client_id: Option<&str>, uri: Option<&str>) -> EndSessionRequest {
    EndSessionRequest {
        id_token_hint: hint.map(str::to_string),
        client_id: client_id.map(str::to_string),
        post_logout_redirect_uri: uri.map(str::to_string),
        state: Some("st 1".into()),
    }
}

async fn end(
    fx: &Fixture,
    req: &EndSessionRequest,
    cookie: Option<&str>,
) -> Result<EndSession, Error> {
    fx.identity.logout.end_session(req, cookie).await
}

fn pending(outcome: Result<EndSession, Error>) -> PendingLogout {
    match outcome.unwrap() {
        EndSession::Confirm(p) => p,
        other => panic!("expected a confirmation, got {other:?}"),
    }
}

async fn session_live(fx: &Fixture, b: &Browser) -> bool {
    fx.caller(&b.access_token).await.is_ok()
}

#[tokio::test]
async fn a_hint_of_the_cookies_session_ends_it_at_once() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({})).await;
        let sid = claims(&b.id_token)["sid"].as_str().unwrap().to_string();
        assert!(session_live(&fx, &b).await);
        let outcome = end(
            &fx,
            &request(Some(&b.id_token), None, Some(BYE)),
            Some(&b.cookie),
        )
        .await
        .unwrap();
        match outcome {
            EndSession::Done { redirect, ended } => {
                assert!(ended, "{}", fx.backend);
                assert_eq!(redirect.as_deref(), Some("https://rp.test/bye?state=st+1"));
            }
            other => panic!("{other:?}"),
        }
        // The session is over: its access token, refresh token and cookie no longer work.
        assert_eq!(fx.refusal(&b.access_token).await, Code::InvalidToken);
        let refreshed = fx.refresh(&b.client, &b.refresh_token).await;
        assert_eq!(refreshed.unwrap_err().code(), Code::InvalidGrant);
        let store = fx.identity.store();
        assert!(store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_some());
        // The same request again: nothing left to end, still the redirect.
        let again = end(
            &fx,
            &request(Some(&b.id_token), None, Some(BYE)),
            Some(&b.cookie),
        )
        .await
        .unwrap();
        assert!(matches!(
            again,
            EndSession::Done {
                ended: false,
                redirect: Some(_)
            }
        ));
    }
}

#[tokio::test]
async fn an_expired_hint_is_accepted_and_a_client_id_must_match_it() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({"id_token_ttl": 60})).await;
        fx.advance_s(600);
        let other = fx.client(json!({"post_logout_redirect_uris": [BYE]})).await;
        let mismatch = end(
            &fx,
            &request(Some(&b.id_token), Some(&other.client_id), Some(BYE)),
            Some(&b.cookie),
        )
        .await
        .unwrap_err();
        assert_eq!(mismatch.code(), Code::InvalidRequest);
        assert!(session_live(&fx, &b).await, "an error ends nothing");
        let done = end(
            &fx,
            &request(Some(&b.id_token), Some(&b.client.client_id), None),
            Some(&b.cookie),
        )
        .await
        .unwrap();
        assert!(
            matches!(
                done,
                EndSession::Done {
                    ended: true,
                    redirect: None
                }
            ),
            "{done:?}"
        );
        assert!(!session_live(&fx, &b).await);
    }
}

#[tokio::test]
async fn bad_requests_are_refused_and_never_redirect() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({})).await;
        let cid = b.client.client_id.clone();
        let cookie = Some(b.cookie.as_str());
        // (request, expected code)
        let mut forged = b.id_token.clone();
        forged.pop();
        forged.push(if b.id_token.ends_with('A') { 'B' } else { 'A' });
        let cases = [
            (request(Some("not.a.jwt"), None, None), Code::InvalidRequest),
            (request(Some(&forged), None, None), Code::InvalidRequest),
            // An access token is not an ID token.
            (
                request(Some(&b.access_token), None, None),
                Code::InvalidRequest,
            ),
            (
                request(None, Some("no-such-client"), None),
                Code::InvalidRequest,
            ),
            // A redirect needs the client identified.
            (request(None, None, Some(BYE)), Code::InvalidRequest),
            (
                request(None, Some(&cid), Some("https://rp.test/elsewhere")),
                Code::InvalidRedirectUri,
            ),
            (
                request(None, Some(&cid), Some("https://rp.test/bye/")),
                Code::InvalidRedirectUri,
            ),
            (
                request(Some(&b.id_token), None, Some("https://evil.test/bye")),
                Code::InvalidRedirectUri,
            ),
        ];
        for (req, want) in cases {
            let got = end(&fx, &req, cookie).await.unwrap_err();
            assert_eq!(got.code(), want, "{req:?}");
        }
        assert!(session_live(&fx, &b).await, "no error ended the session");
        // A disabled client is unknown.
        fx.identity
            .clients
            .patch_client(&fx.admin, &b.client.app_id, &cid, json!({"enabled": false}))
            .await
            .unwrap();
        let got = end(&fx, &request(None, Some(&cid), Some(BYE)), cookie)
            .await
            .unwrap_err();
        assert_eq!(got.code(), Code::InvalidRequest);
    }
}

#[tokio::test]
async fn without_a_session_there_is_nothing_to_end() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({})).await;
        for cookie in [None, Some("unknown-cookie-value")] {
            let done = end(&fx, &request(Some(&b.id_token), None, Some(BYE)), cookie)
                .await
                .unwrap();
            assert!(
                matches!(
                    done,
                    EndSession::Done {
                        ended: false,
                        redirect: Some(_)
                    }
                ),
                "{done:?}"
            );
        }
        assert!(session_live(&fx, &b).await);
    }
}

#[tokio::test]
async fn other_sessions_are_confirmed_with_a_csrf_bound_sealed_request() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({})).await;
        let logout = &fx.identity.logout;
        let cookie = Some(b.cookie.as_str());
        // No hint: ask.
        let p = pending(
            end(
                &fx,
                &request(None, Some(&b.client.client_id), Some(BYE)),
                cookie,
            )
            .await,
        );
        assert_eq!(p.client_name.as_deref(), Some("Test client"));
        assert_eq!(
            p.redirect.as_deref(),
            Some("https://rp.test/bye?state=st+1")
        );
        // A hint of another (ended) session of the same client: ask too.
        let old = fx
            .identity
            .test_browser_login(&b.client.client_id, &b.user_id)
            .await
            .unwrap();
        pending(end(&fx, &request(old.1.id_token.as_deref(), None, None), cookie).await);

        // Missing or wrong CSRF: refused, nothing ends.
        for (field, csrf_cookie) in [
            ("", Some(p.csrf.as_str())),
            (p.csrf.as_str(), None),
            ("wrong", Some("wrong")),
            (p.csrf.as_str(), Some("other")),
        ] {
            let e = logout
                .confirm(&p.pending, field, csrf_cookie, cookie)
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::Forbidden, "{field:?} {csrf_cookie:?}");
        }
        // Another confirmation's CSRF token does not fit this request.
        let p2 = pending(end(&fx, &request(None, None, None), cookie).await);
        let e = logout
            .confirm(&p.pending, &p2.csrf, Some(&p2.csrf), cookie)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Forbidden);
        // An altered request is refused.
        let mut altered = p.pending.clone();
        altered.insert(5, 'x');
        let e = logout
            .confirm(&altered, &p.csrf, Some(&p.csrf), cookie)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidRequest);
        assert!(session_live(&fx, &b).await);

        let done = logout
            .confirm(&p.pending, &p.csrf, Some(&p.csrf), cookie)
            .await
            .unwrap();
        match done {
            EndSession::Done { redirect, ended } => {
                assert!(ended);
                assert_eq!(redirect.as_deref(), Some("https://rp.test/bye?state=st+1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!session_live(&fx, &b).await);

        // A confirmation expires.
        let b2 = fx
            .identity
            .test_browser_login(&b.client.client_id, &b.user_id)
            .await
            .unwrap();
        let p3 = pending(end(&fx, &request(None, None, None), Some(&b2.0)).await);
        fx.advance_s(CONFIRM_TTL_S);
        let e = logout
            .confirm(&p3.pending, &p3.csrf, Some(&p3.csrf), Some(&b2.0))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidRequest);
    }
}

/// The back-channel logout requests recorded, as (url, logout token).
fn logout_tokens(fx: &Fixture) -> Vec<(String, String)> {
    fx.outbound
        .requests()
        .into_iter()
        .filter(|r| r.connection.as_deref() == Some("backchannel_logout"))
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert!(r.headers.contains(&(
                "content-type".into(),
                "application/x-www-form-urlencoded".into()
            )));
            let body = r.body.unwrap();
            let token = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.into_owned())
                .expect("a logout_token field");
            (r.url, token)
        })
        .collect()
}

fn check_logout_token(fx: &Fixture, token: &str, client_id: &str, sub: &str, sid: &str) {
    let signed = fx.identity.keys.verify(token).expect("signed by our keys");
    assert_eq!(signed.typ.as_deref(), Some(LOGOUT_TOKEN_TYP));
    let c = signed.claims;
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], client_id);
    assert_eq!(c["sub"], sub);
    assert_eq!(c["sid"], sid);
    assert_eq!(c["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    assert!(c.get("nonce").is_none());
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
}

#[tokio::test]
async fn ending_a_browser_session_notifies_its_clients_with_retries() {
    for be in backends().await {
        let fx = be.start().await;
        let b = browser(&fx, json!({"backchannel_logout_uri": BC_URI})).await;
        let sid = claims(&b.id_token)["sid"].as_str().unwrap().to_string();
        // A second client of the session (SSO) with its own URI, a third without one.
        let second = fx
            .client_of(
                &b.client.app_id,
                json!({"backchannel_logout_uri": "https://two.test/bc",
                       "id_token_signed_response_alg": "ES256"}),
            )
            .await;
        let third = fx.client(json!({})).await;
        for c in [&second, &third] {
            fx.identity
                .test_browser_add_client(&b.cookie, &c.client_id)
                .await
                .unwrap();
        }
        let deliveries = &fx.identity.deliveries;
        assert_eq!(deliveries.run_due().await.unwrap(), 0);

        // The receivers fail the first time.
        fx.outbound.answer(None);
        let done = end(
            &fx,
            &request(Some(&b.id_token), None, None),
            Some(&b.cookie),
        )
        .await
        .unwrap();
        assert!(matches!(done, EndSession::Done { ended: true, .. }));
        assert_eq!(deliveries.run_due().await.unwrap(), 2, "{}", fx.backend);
        let first = logout_tokens(&fx);
        let mut urls: Vec<&str> = first.iter().map(|(u, _)| u.as_str()).collect();
        urls.sort();
        assert_eq!(urls, ["https://rp.test/backchannel", "https://two.test/bc"]);
        for (url, token) in &first {
            let client = if url == BC_URI { &b.client } else { &second };
            check_logout_token(&fx, token, &client.client_id, &b.user_id, &sid);
        }
        let es256 = first.iter().find(|(u, _)| u != BC_URI).unwrap();
        assert_eq!(crate::fixture::header(&es256.1)["alg"], "ES256");

        // Not again before the backoff; then again, with a fresh token.
        assert_eq!(deliveries.run_due().await.unwrap(), 0);
        fx.advance_s(3);
        fx.outbound.answer(Some(200));
        assert_eq!(deliveries.run_due().await.unwrap(), 2);
        let all = logout_tokens(&fx);
        assert_eq!(all.len(), 4);
        for (url, token) in &all[2..] {
            let client = if url == BC_URI { &b.client } else { &second };
            check_logout_token(&fx, token, &client.client_id, &b.user_id, &sid);
            assert!(!first.iter().any(|(_, t)| t == token), "signed again");
            let iat = claims(token)["iat"].as_i64().unwrap();
            assert_eq!(iat, T0_S + 3, "signed at send time");
        }
        // Delivered: done.
        fx.advance_s(3600);
        assert_eq!(deliveries.run_due().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn every_way_of_ending_a_browser_session_notifies() {
    for be in backends().await {
        let fx = be.start().await;
        fx.outbound.answer(Some(204));
        let b = browser(&fx, json!({"backchannel_logout_uri": BC_URI})).await;
        // "Log out everywhere" by a client with the `sessions` permission.
        let permit = fx.permit::<perm::Sessions>(&b.client).await;
        let n = fx
            .identity
            .logins
            .logout_user(&permit, &b.user_id)
            .await
            .unwrap();
        assert_eq!(n, 1);
        fx.identity.deliveries.run_due().await.unwrap();
        let sid = claims(&b.id_token)["sid"].as_str().unwrap().to_string();
        let sent = logout_tokens(&fx);
        assert_eq!(sent.len(), 1, "{}", fx.backend);
        check_logout_token(&fx, &sent[0].1, &b.client.client_id, &b.user_id, &sid);

        // The user's own logout (a user access token of a new browser session).
        let (_, tokens) = fx
            .identity
            .test_browser_login(&b.client.client_id, &b.user_id)
            .await
            .unwrap();
        let caller = fx.caller(&tokens.access_token).await.unwrap();
        fx.identity
            .logins
            .logout_caller(caller.user().unwrap())
            .await
            .unwrap();
        fx.identity.deliveries.run_due().await.unwrap();
        let sent = logout_tokens(&fx);
        assert_eq!(sent.len(), 2);
        let sid2 = claims(tokens.id_token.as_deref().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string();
        check_logout_token(&fx, &sent[1].1, &b.client.client_id, &b.user_id, &sid2);

        // A backend session's logout notifies nobody (it has no session clients).
        fx.sign_in(&b.client, "ann@example.test").await;
        fx.identity
            .logins
            .logout_user(&permit, &b.user_id)
            .await
            .unwrap();
        fx.identity.deliveries.run_due().await.unwrap();
        assert_eq!(logout_tokens(&fx).len(), 2);
    }
}
