//! The hosted platform's OTP send extras, claim names and revocation path, replayed as its
//! clients send them and read back as its clients read them: `custom_email` /
//! `custom_phone_number` (the message in the dev outbox at that address, the user's own
//! address not verified), `approval_data` (echoed in the send answer, a claim of the decoded
//! ID token, refused with a clear 400 when not a flat object of plain strings),
//! `email_content` / `custom_sms_input` (the message's subject and text, the code kept, no
//! header injection) on OTP and magic-link sends, the claims `fname`, `mname`, `lname`,
//! `groups`, `roles`, `new_user`, `custom_app_data` and `tid` requested with `claims`, and
//! RFC 7009 revocation at `/oidc/token/revocation`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::paths::{LINK_SEND, OTP_AUTH, OTP_SEND, OUTBOX, REFRESH, USERINFO, USERS};
use crate::harness::{backends, claims, code, now_ms, TestServer, ALL_PERMISSIONS, SECRET};

const CALLBACK: &str = "https://app.example/callback";

/// A node with the dev outbox on, an admin token, a client allowed `auth:direct` (custom
/// destinations need it) with the callback registered, and the user `ann` (unverified
/// email and phone).
async fn start(b: &crate::harness::Backend) -> (TestServer, String, String, String) {
    let mut config = b.config();
    config.delivery.outbox = true;
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    let admin = srv.admin_token().await;
    let (_, token) = srv
        .client(
            &admin,
            json!({"permissions": ALL_PERMISSIONS, "redirect_uris": [CALLBACK]}),
        )
        .await;
    let user_id = srv
        .create_user(
            &token,
            json!({
                "username": "ann",
                "email": "Ann@Example.com",
                "phone_number": "+14155550100",
                "name": {"first_name": "Ann", "middle_name": "Beth", "last_name": "Lee"},
                "custom_app_data": {"plan": "gold"},
                "credentials": {"password": SECRET},
            }),
        )
        .await;
    (srv, admin, token, user_id)
}

/// The dev outbox's messages to `to` (URL-encoded here), newest first.
async fn outbox(srv: &TestServer, admin: &str, to: &str) -> Vec<Value> {
    let to: String = url::form_urlencoded::byte_serialize(to.as_bytes()).collect();
    let (s, v) = srv
        .send_json(Method::GET, &format!("{OUTBOX}?to={to}"), admin, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

/// The only run of 4 to 8 digits in a message.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| (4..=8).contains(&w.len()))
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_string()
}

async fn user(srv: &TestServer, token: &str, user_id: &str) -> Value {
    let (s, v) = srv
        .send_json(Method::GET, &format!("{USERS}/{user_id}"), token, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["result"].clone()
}

/// Redeems `passcode` for the username `ann`, asking for `claims`.
async fn redeem(srv: &TestServer, token: &str, passcode: &str, claims_req: Value) -> Value {
    let (s, v) = srv
        .post(
            OTP_AUTH,
            token,
            json!({"passcode": passcode, "identifier_type": "username", "identifier": "ann",
                   "claims": claims_req}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// A `direct` code for `username`.
async fn direct(srv: &TestServer, token: &str, username: &str) -> String {
    let (s, v) = srv
        .post(
            OTP_SEND,
            token,
            json!({"channel": "direct", "identifier_type": "username", "identifier": username}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["code"].as_str().unwrap().to_string()
}

/// Redeems `passcode` for `cat`, asking for `new_user`.
async fn login_cat(srv: &TestServer, token: &str, passcode: &str) -> (StatusCode, Value) {
    srv.post(
        OTP_AUTH,
        token,
        json!({"passcode": passcode, "identifier_type": "username", "identifier": "cat",
               "claims": {"id_token": {"new_user": null}}}),
    )
    .await
}

fn id_token(v: &Value) -> Value {
    claims(v["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn custom_email_gets_the_code_and_verifies_none_of_the_users_addresses() {
    for b in backends().await {
        let (srv, admin, token, user_id) = start(&b).await;
        let approval = json!({"transaction_id": "eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT",
                              "sum": "200"});
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "email", "identifier_type": "username", "identifier": "ann",
                       "custom_email": " approver@example.org ", "approval_data": approval}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        // The platform's answer: the message and the approval data, no code.
        assert_eq!(v, json!({"message": "OTP sent", "approval_data": approval}));
        let sent = outbox(&srv, &admin, "approver@example.org").await;
        assert_eq!(sent.len(), 1, "{}", b.name);
        assert_eq!(sent[0]["channel"], "email");
        assert!(outbox(&srv, &admin, "Ann@Example.com").await.is_empty());
        let passcode = code_in(sent[0]["text"].as_str().unwrap());

        let t = redeem(&srv, &token, &passcode, json!({})).await;
        let id = id_token(&t);
        assert_eq!(id["approval_data"], approval, "{}", b.name);
        assert_eq!(id["amr"], json!(["eotp"]));
        assert_eq!(
            user(&srv, &token, &user_id).await["email"]["email_verified"],
            false
        );

        // Even the user's own address, given as `custom_email`, is not verified by it.
        let (s, _) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "email", "identifier_type": "username", "identifier": "ann",
                       "custom_email": "ann@example.com"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let sent = outbox(&srv, &admin, "ann@example.com").await;
        let t = redeem(
            &srv,
            &token,
            &code_in(sent[0]["text"].as_str().unwrap()),
            json!({}),
        )
        .await;
        // No approval data in this send: no claim.
        assert!(id_token(&t).get("approval_data").is_none());
        assert_eq!(
            user(&srv, &token, &user_id).await["email"]["email_verified"],
            false
        );
        // The same code sent to the user's own address verifies it.
        let (s, _) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "email", "identifier_type": "username", "identifier": "ann"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let sent = outbox(&srv, &admin, "Ann@Example.com").await;
        redeem(
            &srv,
            &token,
            &code_in(sent[0]["text"].as_str().unwrap()),
            json!({}),
        )
        .await;
        assert_eq!(
            user(&srv, &token, &user_id).await["email"]["email_verified"],
            true
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn custom_phone_number_gets_the_custom_sms_and_the_phone_stays_unverified() {
    for b in backends().await {
        let (srv, admin, token, user_id) = start(&b).await;
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "sms", "identifier_type": "email",
                       "identifier": "ann@example.com",
                       "custom_phone_number": "+1 (415) 555-0199",
                       "custom_sms_input": {"custom_message": "{app}: your code is {otp}",
                                            "sender_id": "Shop"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v, json!({"message": "OTP sent"}));
        assert!(outbox(&srv, &admin, "+14155550100").await.is_empty());
        let sent = outbox(&srv, &admin, "+14155550199").await;
        assert_eq!(sent.len(), 1, "{}", b.name);
        assert_eq!(sent[0]["channel"], "sms");
        let text = sent[0]["text"].as_str().unwrap();
        let passcode = code_in(text);
        assert_eq!(text, format!("Test app: your code is {passcode}"));

        let t = redeem(&srv, &token, &passcode, json!({})).await;
        assert_eq!(id_token(&t)["amr"], json!(["sms"]));
        let u = user(&srv, &token, &user_id).await;
        assert_eq!(u["phone_number"]["phone_number_verified"], false, "{u}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn custom_destinations_are_checked_and_need_auth_direct() {
    for b in backends().await {
        let (srv, admin, token, _) = start(&b).await;
        let (_, plain) = srv.client(&admin, json!({})).await;
        let send = |extra: Value| {
            let mut body = json!({"channel": "email", "identifier_type": "username",
                                  "identifier": "ann"});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        // Whoever chooses the address can read the code: `auth:direct`, as for `direct`.
        let (s, v) = srv
            .post(
                OTP_SEND,
                &plain,
                send(json!({"custom_email": "me@example.org"})),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "insufficient_permissions")
        );
        let cases = [
            (json!({"custom_email": "not an email"}), "invalid_email"),
            (
                json!({"custom_phone_number": "+14155550199"}),
                "invalid_request",
            ),
            (
                json!({"channel": "sms", "custom_email": "me@example.org"}),
                "invalid_request",
            ),
            (
                json!({"channel": "sms", "custom_phone_number": "0415"}),
                "invalid_phone_number",
            ),
            (
                json!({"channel": "direct", "custom_email": "me@example.org"}),
                "invalid_request",
            ),
        ];
        for (extra, want) in cases {
            let (s, v) = srv.post(OTP_SEND, &token, send(extra.clone())).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, want),
                "{} {extra} {v}",
                b.name
            );
        }
        assert!(outbox(&srv, &admin, "me@example.org").await.is_empty());

        // The per-destination limit (5 per 10 minutes) counts the custom address, not the
        // user's: the sixth send there is refused, one to the user's own address is not.
        for i in 0..6 {
            let (s, v) = srv
                .post(
                    OTP_SEND,
                    &token,
                    send(json!({"custom_email": "limit@example.org"})),
                )
                .await;
            let want = if i < 5 { "" } else { "rate_limited" };
            assert_eq!(code(&v), want, "{} send {i}: {s} {v}", b.name);
        }
        assert_eq!(outbox(&srv, &admin, "limit@example.org").await.len(), 5);
        let (s, v) = srv.post(OTP_SEND, &token, send(json!({}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn approval_data_must_be_a_flat_object_of_plain_strings() {
    for b in backends().await {
        let (srv, admin, token, _) = start(&b).await;
        let eleven: serde_json::Map<String, Value> =
            (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        for bad in [
            json!("sum=200"),
            json!(["sum", "200"]),
            Value::Object(eleven),
            json!({"sum": 200}),
            json!({"sum": {"value": "200"}}),
            json!({"sum": "200 EUR"}),
            json!({"sum total": "200"}),
            json!({"note": "x".repeat(257)}),
        ] {
            let (s, v) = srv
                .post(
                    OTP_SEND,
                    &token,
                    json!({"channel": "email", "identifier_type": "username",
                           "identifier": "ann", "approval_data": bad}),
                )
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {bad} {v}", b.name);
            assert_eq!(code(&v), "invalid_request");
            assert!(
                v["message"].as_str().unwrap().contains("approval_data"),
                "{v}"
            );
        }
        // Nothing was sent.
        assert!(outbox(&srv, &admin, "Ann@Example.com").await.is_empty());

        // Ten members of letters, digits, `_`, `-`, `.`, `:` are fine; the direct answer
        // carries both the code and the data, the ID token the data, a refresh not.
        let ten: serde_json::Map<String, Value> = (0..10)
            .map(|i| (format!("key_{i}"), json!(format!("v-{i}.0:1"))))
            .collect();
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "direct", "identifier_type": "username",
                       "identifier": "ann", "approval_data": ten}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["approval_data"], Value::Object(ten.clone()));
        let t = redeem(&srv, &token, v["code"].as_str().unwrap(), json!({})).await;
        assert_eq!(
            id_token(&t)["approval_data"],
            Value::Object(ten),
            "{}",
            b.name
        );
        // The access token does not carry it.
        assert!(claims(t["access_token"].as_str().unwrap())
            .get("approval_data")
            .is_none());
        // A `claims` request cannot forge it either.
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "direct", "identifier_type": "username", "identifier": "ann"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let t2 = redeem(
            &srv,
            &token,
            v["code"].as_str().unwrap(),
            json!({"id_token": {"approval_data": null}}),
        )
        .await;
        assert!(id_token(&t2).get("approval_data").is_none());
        let (s, r) = srv
            .post(
                REFRESH,
                &token,
                json!({"refresh_token": t["refresh_token"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert!(id_token(&r).get("approval_data").is_none(), "{}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn email_content_shapes_otp_and_magic_link_emails() {
    for b in backends().await {
        let (srv, admin, token, _) = start(&b).await;
        let content = json!({
            "subject": "Approve your payment",
            "primaryColor": "#6981FF",
            "base64logo": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
            "headerText": "Hello Ann",
            "bodyText": "Use this code to approve:",
            "linkText": "Approve",
            "infoText": "It works once.",
            "footerText": "If you didn't request this email, you can safely ignore it.",
            "senderName": "Shop",
        });
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "email", "identifier_type": "username", "identifier": "ann",
                       "email_content": content}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        let m = &outbox(&srv, &admin, "Ann@Example.com").await[0];
        assert_eq!(m["subject"], "Approve your payment", "{}", b.name);
        let text = m["text"].as_str().unwrap();
        let passcode = code_in(text);
        assert_eq!(
            text,
            format!(
                "Hello Ann\n\nUse this code to approve:\n\n{passcode} is your verification \
                 code for Test app. It expires in 5 minutes.\n\nIt works once.\n\nIf you \
                 didn't request this email, you can safely ignore it."
            ),
            "{}",
            b.name
        );
        redeem(&srv, &token, &passcode, json!({})).await;

        // Header injection, missing subject, bad colour, long texts: 400, nothing sent.
        for bad in [
            json!({"subject": "Hi\r\nBcc: all@example.org"}),
            json!({"subject": "Hi\nthere"}),
            json!({"headerText": "no subject"}),
            json!({"subject": "Hi", "primaryColor": "blue"}),
            json!({"subject": "Hi", "bodyText": "x".repeat(2001)}),
            json!({"subject": "x".repeat(201)}),
            json!({"subject": "Hi", "base64logo": "a".repeat(20_001)}),
        ] {
            let (s, v) = srv
                .post(
                    OTP_SEND,
                    &token,
                    json!({"channel": "email", "identifier_type": "username",
                           "identifier": "ann", "email_content": bad}),
                )
                .await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{v}"
            );
            assert!(
                v["message"].as_str().unwrap().contains("email_content"),
                "{v}"
            );
        }
        // A custom SMS without the code's placeholder is refused.
        let (s, v) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "sms", "identifier_type": "username", "identifier": "ann",
                       "custom_sms_input": {"custom_message": "Hi from {app}"}}),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{v}"
        );
        assert_eq!(outbox(&srv, &admin, "Ann@Example.com").await.len(), 1);
        assert!(outbox(&srv, &admin, "+14155550100").await.is_empty());

        // The magic link takes the same `email_content`; the link stays in the text.
        let (s, v) = srv
            .post(
                LINK_SEND,
                &token,
                json!({"redirect_uri": CALLBACK, "identifier_type": "email",
                       "identifier": "ann@example.com",
                       "email_content": {"subject": "Sign in to the shop",
                                         "bodyText": "Click below:",
                                         "footerText": "Thanks"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let m = &outbox(&srv, &admin, "Ann@Example.com").await[0];
        assert_eq!(m["subject"], "Sign in to the shop", "{}", b.name);
        let text = m["text"].as_str().unwrap();
        assert!(text.starts_with("Click below:\n\nSign in to Test app with this link:\n\n"));
        assert!(text.contains(&format!("{CALLBACK}?code=")), "{text}");
        assert!(text.ends_with("\n\nThanks"), "{text}");
        let (s, v) = srv
            .post(
                LINK_SEND,
                &token,
                json!({"redirect_uri": CALLBACK, "identifier_type": "email",
                       "identifier": "ann@example.com",
                       "email_content": {"subject": "a\rb"}}),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{v}"
        );
        srv.stop().await;
    }
}

/// Every platform claim name, and one nobody knows.
fn platform_claims() -> Value {
    json!({"id_token": {"fname": null, "mname": null, "lname": null, "groups": null,
                        "roles": null, "new_user": null, "custom_app_data": null,
                        "tid": null, "no_such_claim": null},
           "access_token": {"roles": null, "fname": null, "tid": null}})
}

#[tokio::test]
async fn the_platforms_claim_names_are_issued_when_requested() {
    for b in backends().await {
        let (srv, admin, token, _) = start(&b).await;
        // The tenant id is the management application's id, which admin tokens name.
        let tenant = claims(&admin)["app_id"].clone();
        assert!(tenant.as_str().is_some_and(|t| !t.is_empty()));
        let t = redeem(
            &srv,
            &token,
            &direct(&srv, &token, "ann").await,
            platform_claims(),
        )
        .await;
        let id = id_token(&t);
        for (name, want) in [
            ("fname", json!("Ann")),
            ("mname", json!("Beth")),
            ("lname", json!("Lee")),
            ("groups", json!([])),
            ("roles", json!([])),
            ("new_user", json!(true)),
            ("custom_app_data", json!({"plan": "gold"})),
            ("tid", tenant.clone()),
        ] {
            assert_eq!(id[name], want, "{} {name}: {id}", b.name);
        }
        // Unknown names are ignored (OIDC Core §5.5).
        assert!(id.get("no_such_claim").is_none());
        // In access tokens `roles` stays the client tokens' claim; the others are given.
        let access = claims(t["access_token"].as_str().unwrap());
        assert!(access.get("roles").is_none(), "{access}");
        assert_eq!((&access["fname"], &access["tid"]), (&json!("Ann"), &tenant));
        // Only asked for: a login without `claims` has none of them.
        let plain = redeem(&srv, &token, &direct(&srv, &token, "ann").await, json!({})).await;
        for name in ["fname", "groups", "new_user", "tid"] {
            assert!(id_token(&plain).get(name).is_none(), "{name}");
        }

        // The next authentication is not the first; neither is a refresh.
        let again = redeem(
            &srv,
            &token,
            &direct(&srv, &token, "ann").await,
            platform_claims(),
        )
        .await;
        assert_eq!(id_token(&again)["new_user"], false, "{}", b.name);
        let (s, r) = srv
            .post(
                REFRESH,
                &token,
                json!({"refresh_token": t["refresh_token"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(id_token(&r)["new_user"], false);
        assert_eq!(id_token(&r)["fname"], "Ann");

        // A user without a name: no name claims; a password login counts as a first too.
        srv.create_user(
            &token,
            json!({"username": "bob", "credentials": {"password": SECRET}}),
        )
        .await;
        let (s, v) = srv
            .login(
                &token,
                json!({"username": "bob", "password": SECRET, "claims": platform_claims()}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let id = id_token(&v);
        assert_eq!(id["new_user"], true, "{} {id}", b.name);
        assert!(
            id.get("fname").is_none() && id.get("lname").is_none(),
            "{id}"
        );
        assert_eq!(id["custom_app_data"], json!({}));
        srv.stop().await;
    }
}

#[tokio::test]
async fn of_two_concurrent_first_logins_exactly_one_is_new_user() {
    for b in backends().await {
        let (srv, admin, token, _) = start(&b).await;
        srv.create_user(&token, json!({"username": "cat"})).await;
        // Codes are bound to their client: two clients, one code each.
        let (_, other) = srv
            .client(&admin, json!({"permissions": ALL_PERMISSIONS}))
            .await;
        let (first, second) = (
            direct(&srv, &token, "cat").await,
            direct(&srv, &other, "cat").await,
        );
        let (a, b2) = tokio::join!(
            login_cat(&srv, &token, &first),
            login_cat(&srv, &other, &second)
        );
        let mut news = Vec::new();
        for (s, v) in [a, b2] {
            assert_eq!(s, StatusCode::OK, "{v}");
            news.push(id_token(&v)["new_user"].as_bool().unwrap());
        }
        news.sort();
        assert_eq!(news, [false, true], "{}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn tokens_are_revoked_at_the_platforms_revocation_path() {
    for b in backends().await {
        let (srv, _admin, _, _) = start(&b).await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&client_id, &secret).await;
        let creds = [
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let t = srv.login_ok(&token, "ann").await;
        let access = t["access_token"].as_str().unwrap();
        let (s, _) = srv.send_json(Method::GET, USERINFO, access, None).await;
        assert_eq!(s, StatusCode::OK);

        // The access token at /oidc/token/revocation, the refresh token at the /cis one.
        let mut form = creds.to_vec();
        form.push(("token", access));
        let r = srv.form("/oidc/token/revocation", &form).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let (s, _) = srv.send_json(Method::GET, USERINFO, access, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{}", b.name);
        let refresh = t["refresh_token"].as_str().unwrap();
        let mut form = creds.to_vec();
        form.extend([("token", refresh), ("token_type_hint", "refresh_token")]);
        let r = srv.form("/cis/oidc/token/revocation", &form).await;
        assert_eq!(r.status(), StatusCode::OK);
        let (s, v) = srv
            .post(REFRESH, &token, json!({"refresh_token": refresh}))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{v}"
        );

        // RFC 6749 error bodies, as at /oidc/revoke.
        let r = srv.form("/oidc/token/revocation", &creds).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_request", "{v}");
        let r = srv
            .form(
                "/cis/oidc/token/revocation",
                &[
                    ("client_id", client_id.as_str()),
                    ("client_secret", "wrong"),
                    ("token", "x"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Discovery keeps naming /oidc/revoke.
        let d: Value = srv
            .http
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            d["revocation_endpoint"],
            format!("{}/oidc/revoke", srv.issuer)
        );
        srv.stop().await;
    }
}
