//! Connected-app tokens (direct trust), checked the way Tableau does
//! before it opens a session: an HS256 signature over the app's secret,
//! `kid` = the secret id, `iss` = the client id, `aud` = `tableau`, a `sub`
//! naming a user, `exp` in the future but at most ten minutes ahead, and a
//! `jti` never seen before. The scopes (`scp`) are kept with the session and
//! each endpoint asks for its own ([`required_scope`]).
//!
//! The site's own code (ring's HMAC, base64): it shares nothing with the
//! crate TRM mints tokens with.

use std::collections::HashSet;
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::Value;

use crate::sim::ConnectedApp;

/// Tableau's limit on how far ahead `exp` may be.
const MAX_LIFETIME_SECS: i64 = 600;

/// What a checked token grants.
#[derive(Debug, PartialEq)]
pub struct Grant {
    pub username: String,
    pub scopes: Vec<String>,
}

/// Token ids already used: a token signs in once.
#[derive(Default)]
pub struct SeenIds(Mutex<HashSet<String>>);

/// Checks `token`; the error says what was wrong (for the sign-in error's
/// detail; it never repeats the token).
pub fn verify(app: &ConnectedApp, token: &str, now: i64, seen: &SeenIds) -> Result<Grant, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("the JWT does not have three parts".into());
    };
    let decode = |part: &str, what: &str| -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| format!("the JWT {what} is not base64url"))
    };
    let json = |bytes: Vec<u8>, what: &str| -> Result<Value, String> {
        serde_json::from_slice(&bytes).map_err(|_| format!("the JWT {what} is not JSON"))
    };
    let header = json(decode(header, "header")?, "header")?;
    let claims = json(decode(payload, "payload")?, "payload")?;
    let signature = decode(signature, "signature")?;

    if header["alg"] != "HS256" {
        return Err(format!("the JWT algorithm is {}, not HS256", header["alg"]));
    }
    if header["kid"].as_str() != Some(app.secret_id.as_str()) {
        return Err("the JWT kid is not this connected app's secret id".into());
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app.secret.as_bytes());
    let signed = &token[..token.rfind('.').expect("three parts")];
    ring::hmac::verify(&key, signed.as_bytes(), &signature).map_err(|_| "the JWT signature does not verify".to_string())?;

    if claims["iss"].as_str() != Some(app.client_id.as_str()) {
        return Err("the JWT iss is not this connected app's client id".into());
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == "tableau",
        Value::Array(list) => list.iter().any(|a| a == "tableau"),
        _ => false,
    };
    if !audience_ok {
        return Err("the JWT aud is not \"tableau\"".into());
    }
    let exp = claims["exp"].as_i64().ok_or("the JWT has no exp")?;
    if exp <= now {
        return Err("the JWT has expired".into());
    }
    if exp > now + MAX_LIFETIME_SECS {
        return Err("the JWT exp is more than 10 minutes ahead".into());
    }
    let username = claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or("the JWT has no sub")?.to_string();
    let jti = claims["jti"].as_str().filter(|s| !s.is_empty()).ok_or("the JWT has no jti")?;
    let scopes: Vec<String> = match &claims["scp"] {
        Value::Array(list) => list.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => return Err("the JWT has no scp (scopes)".into()),
    };
    if !seen.0.lock().expect("jti set poisoned").insert(jti.to_string()) {
        return Err("the JWT jti was already used".into());
    }
    Ok(Grant { username, scopes })
}

/// The scope a request needs under a connected-app session. Reads of
/// content (and the Metadata API) need `tableau:content:read`; people, tasks,
/// schedules and jobs have their own read scopes; each write names its
/// resource and action.
pub fn required_scope(method: &str, path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.first() == Some(&"api") && parts.get(1) == Some(&"metadata") {
        return "tableau:content:read".into();
    }
    // api / {v} / sites / {site} / resource / ...
    let rest: &[&str] = match parts.as_slice() {
        ["api", _, "sites", _, rest @ ..] => rest,
        ["api", _, rest @ ..] => rest,
        other => other,
    };
    let resource = match rest.first().copied().unwrap_or("") {
        r if r.starts_with("tags:") => "tags",
        "tasks" => "tasks",
        r => r,
    };
    let last = rest.last().copied().unwrap_or("");
    let read = method == "GET";
    let scope = |res: &str, action: &str| format!("tableau:{res}:{action}");
    if rest.contains(&"permissions") || rest.contains(&"default-permissions") {
        return if read { scope("content", "read") } else if method == "DELETE" { scope("permissions", "delete") } else { scope("permissions", "update") };
    }
    if rest.contains(&"tags") || resource == "tags" {
        return if read { scope("content", "read") } else if method == "DELETE" || last.ends_with("batchDelete") { scope("tags", "delete") } else { scope("tags", "create") };
    }
    match (resource, method) {
        ("users" | "groups" | "jobs" | "schedules", "GET") => scope(resource, "read"),
        ("tasks", "GET") => scope("tasks", "read"),
        (_, "GET") => scope("content", "read"),
        ("tasks", _) if last == "runNow" => scope("tasks", "run"),
        (_, "POST") if last == "refresh" => scope(resource, "refresh"),
        ("groups", _) if rest.contains(&"users") => scope("groups", "update"),
        (_, "POST") if rest.len() == 1 => scope(resource, "create"),
        (_, "DELETE") => scope(resource, "delete"),
        _ => scope(resource, "update"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    }

    fn token(app: &ConnectedApp, claims: Value, kid: &str, secret: &str) -> String {
        let header = b64(serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string().as_bytes());
        let payload = b64(claims.to_string().as_bytes());
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let sig = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
        let _ = app;
        format!("{header}.{payload}.{}", b64(sig.as_ref()))
    }

    fn claims(app: &ConnectedApp, now: i64, jti: &str) -> Value {
        serde_json::json!({"iss": app.client_id, "aud": "tableau", "sub": "ann", "exp": now + 300, "jti": jti,
            "scp": ["tableau:content:read"]})
    }

    #[test]
    fn good_tokens_sign_in_once() {
        let app = ConnectedApp::default();
        let seen = SeenIds::default();
        let t = token(&app, claims(&app, 1000, "a"), &app.secret_id, &app.secret);
        let g = verify(&app, &t, 1000, &seen).unwrap();
        assert_eq!(g, Grant { username: "ann".into(), scopes: vec!["tableau:content:read".into()] });
        assert_eq!(verify(&app, &t, 1000, &seen).unwrap_err(), "the JWT jti was already used");
    }

    #[test]
    fn every_check_refuses_its_case() {
        let app = ConnectedApp::default();
        let seen = SeenIds::default();
        let now = 1000;
        let bad = |c: Value, kid: &str, secret: &str| verify(&app, &token(&app, c, kid, secret), now, &seen).unwrap_err();
        let mut c = claims(&app, now, "1");
        assert!(bad(c.clone(), "other-kid", &app.secret).contains("kid"));
        assert!(bad(c.clone(), &app.secret_id, "wrong secret").contains("signature"));
        c["iss"] = "someone".into();
        assert!(bad(c, &app.secret_id, &app.secret).contains("iss"));
        let mut c = claims(&app, now, "2");
        c["aud"] = "elsewhere".into();
        assert!(bad(c, &app.secret_id, &app.secret).contains("aud"));
        let mut c = claims(&app, now, "3");
        c["exp"] = (now + 601).into();
        assert!(bad(c, &app.secret_id, &app.secret).contains("10 minutes"));
        let mut c = claims(&app, now, "4");
        c["exp"] = (now - 1).into();
        assert!(bad(c, &app.secret_id, &app.secret).contains("expired"));
        assert!(verify(&app, "a.b", now, &seen).unwrap_err().contains("three parts"));
    }

    #[test]
    fn endpoints_ask_for_their_scopes() {
        let s = "/api/3.27/sites/x";
        assert_eq!(required_scope("GET", &format!("{s}/workbooks")), "tableau:content:read");
        assert_eq!(required_scope("POST", "/api/metadata/graphql"), "tableau:content:read");
        assert_eq!(required_scope("GET", &format!("{s}/users")), "tableau:users:read");
        assert_eq!(required_scope("POST", &format!("{s}/users")), "tableau:users:create");
        assert_eq!(required_scope("PUT", &format!("{s}/users/u")), "tableau:users:update");
        assert_eq!(required_scope("DELETE", &format!("{s}/users/u")), "tableau:users:delete");
        assert_eq!(required_scope("POST", &format!("{s}/groups/g/users")), "tableau:groups:update");
        assert_eq!(required_scope("PUT", &format!("{s}/workbooks/w/permissions")), "tableau:permissions:update");
        assert_eq!(required_scope("PUT", &format!("{s}/tags:batchCreate")), "tableau:tags:create");
        assert_eq!(required_scope("POST", &format!("{s}/tasks/extractRefreshes/t/runNow")), "tableau:tasks:run");
        assert_eq!(required_scope("POST", &format!("{s}/datasources/d/refresh")), "tableau:datasources:refresh");
        assert_eq!(required_scope("GET", &format!("{s}/tasks/extractRefreshes")), "tableau:tasks:read");
        assert_eq!(required_scope("GET", "/api/3.27/schedules"), "tableau:schedules:read");
        assert_eq!(required_scope("PUT", &format!("{s}/jobs/j")), "tableau:jobs:update");
    }
}
