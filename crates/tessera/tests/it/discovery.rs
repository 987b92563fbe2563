//! Discovery metadata and the JWKS.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::backends;

#[tokio::test]
async fn discovery_is_identical_under_every_prefix_and_names_the_issuer_exactly() {
    for b in backends().await {
        let srv = b.start().await;
        let mut bodies = Vec::new();
        for path in [
            "/.well-known/openid-configuration",
            "/oidc/.well-known/openid-configuration",
            "/cis/oidc/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let r = srv.http.get(srv.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
            bodies.push(r.text().await.unwrap());
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
        let doc: Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(doc["issuer"], srv.issuer.as_str(), "{}", b.name);
        assert_eq!(doc["token_endpoint"], format!("{}/oidc/token", srv.issuer));
        assert_eq!(doc["jwks_uri"], format!("{}/oidc/jwks", srv.issuer));
        assert_eq!(
            doc["introspection_endpoint"],
            format!("{}/oidc/introspect", srv.issuer)
        );
        assert_eq!(
            doc["revocation_endpoint"],
            format!("{}/oidc/revoke", srv.issuer)
        );
        assert_eq!(
            doc["subject_types_supported"],
            serde_json::json!(["public"])
        );
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
        let methods = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(
            methods.contains(&"client_secret_basic".into())
                && methods.contains(&"client_secret_post".into())
        );
        assert!(doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&"client_credentials".into()));
        for field in [
            "scopes_supported",
            "claims_supported",
            "response_types_supported",
        ] {
            assert!(doc[field].is_array(), "{field}");
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn default_issuer_is_the_bound_loopback_address() {
    let b = &backends().await[0];
    let mut config = b.config();
    config.issuer = None;
    let srv = crate::harness::TestServer::start(
        config,
        tessera_identity::TestClock::new(crate::harness::now_ms()),
    )
    .await;
    assert_eq!(srv.issuer, srv.base);
    let doc: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], srv.base.as_str());
    srv.stop().await;
}

#[tokio::test]
async fn configured_issuer_is_used_byte_for_byte() {
    for b in backends().await {
        let mut config = b.config();
        config.issuer = Some("https://id.example.test/tenant-a".into());
        let srv = crate::harness::TestServer::start(
            config,
            tessera_identity::TestClock::new(crate::harness::now_ms()),
        )
        .await;
        let doc: Value = srv
            .http
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], "https://id.example.test/tenant-a");
        let token = srv.admin_token().await;
        assert_eq!(
            crate::harness::claims(&token)["iss"],
            "https://id.example.test/tenant-a"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn jwks_publishes_three_algorithms_with_kids_under_both_paths() {
    for b in backends().await {
        let srv = b.start().await;
        for path in ["/oidc/jwks", "/cis/oidc/jwks"] {
            let r = srv.http.get(srv.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["access-control-allow-origin"], "*");
            let jwks: Value = r.json().await.unwrap();
            let keys = jwks["keys"].as_array().unwrap();
            let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
            algs.sort();
            assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
            for k in keys {
                assert!(!k["kid"].as_str().unwrap().is_empty());
                assert!(
                    k.get("d").is_none() && k.get("p").is_none(),
                    "private parts must never be published"
                );
            }
        }
        srv.stop().await;
    }
}
