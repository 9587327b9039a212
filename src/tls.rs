//! Process-wide TLS setup. reqwest is built on rustls without a bundled
//! crypto provider, so one (ring) must be installed before any client is
//! built; every entry point calls [`install`], and it is idempotent.

/// Installs ring as the process's rustls crypto provider, once.
pub fn install() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain reqwest client with the provider installed, for tools and tests.
pub fn http_client() -> reqwest::Client {
    install();
    reqwest::Client::new()
}
