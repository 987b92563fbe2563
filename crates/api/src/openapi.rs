//! The OpenAPI 3.1 description of the HTTP surface, served at `/openapi.json`. It is data;
//! the test below holds it to the route table, both ways.

/// The document, kept beside this file as JSON.
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DOCUMENT;

    const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if METHODS.contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = crate::endpoints()
            .into_iter()
            .map(|e| (e.method.as_str().to_string(), e.path.to_string()))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            phantom.is_empty(),
            "openapi.json documents routes that do not exist: {phantom:?}"
        );
    }

    #[test]
    fn token_answers_document_the_refresh_token() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        for schema in ["AuthTokenResponse", "TokenResponse"] {
            assert!(
                doc["components"]["schemas"][schema]["properties"]["refresh_token"].is_object(),
                "{schema}"
            );
        }
    }
}
