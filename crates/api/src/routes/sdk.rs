//! The JavaScript client of client journeys, `tessera-ido.js`, served from the binary.

use axum::http::header;
use axum::response::IntoResponse;

/// The module's source, kept in the repository next to this file.
pub const TESSERA_IDO_JS: &str = include_str!("../sdk/tessera-ido.js");

/// `GET /ido/sdk/tessera-ido.js`. Public, cacheable for an hour (the file changes only with
/// the binary), and readable from any origin: a page on another origin loads it as a module
/// script, which browsers fetch in CORS mode. It carries no credentials; the journey calls
/// themselves are restricted by each client's `allowed_origins`.
pub async fn tessera_ido_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        TESSERA_IDO_JS,
    )
}

#[cfg(test)]
mod tests {
    use super::TESSERA_IDO_JS;

    #[test]
    fn the_module_exports_the_sdk_surface() {
        for name in [
            "export function initialize",
            "export async function startJourney",
            "export async function submitClientResponse",
            "export function serializeState",
            "export function restoreFromSerializedState",
            "export const ClientResponseOptionType",
            "export const IdoServiceResponseType",
        ] {
            assert!(TESSERA_IDO_JS.contains(name), "missing: {name}");
        }
    }
}
