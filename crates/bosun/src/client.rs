//! The API client every out-of-process component (simulator, agent,
//! standalone scheduler and controller manager) uses.
//!
//! kube's default client speaks HTTP/1.1 over a pool of connections. Like
//! client-go, this one speaks HTTP/2 over a single connection: requests and
//! watches share it as streams, so the server handles one TLS session and
//! writes frames of many responses per syscall.

use anyhow::Context;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ConfigExt};
use tower::{BoxError, ServiceBuilder};

/// The `User-Agent` a component sends, in client-go's form
/// (`<component>/<version> (<os>/<arch>) <build>`): the API server names a
/// write's field manager after the part before the first `/`, so objects
/// show `kube-controller-manager`, `kube-scheduler` or `kubelet` in their
/// managedFields as they do upstream.
pub fn user_agent(component: &str) -> http::HeaderValue {
    let agent = format!(
        "{component}/{} ({}/{}) bosun/{}",
        bosun_apiserver::handler::GIT_VERSION,
        std::env::consts::OS,
        go_arch(),
        env!("CARGO_PKG_VERSION"),
    );
    http::HeaderValue::from_str(&agent).unwrap_or(http::HeaderValue::from_static("bosun"))
}

/// The architecture as Go spells it (`GOARCH`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A kube client on one HTTP/2 connection to `config`'s server, sending
/// `component`'s [`user_agent`].
pub fn http2(mut config: kube::Config, component: &str) -> anyhow::Result<kube::Client> {
    config
        .headers
        .push((http::header::USER_AGENT, user_agent(component)));
    let tls = config
        .rustls_client_config()
        .context("invalid TLS settings in the kubeconfig")?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http2()
        .build();
    let http: HttpClient<_, Body> = HttpClient::builder(TokioExecutor::new())
        .http2_only(true)
        .http2_adaptive_window(true)
        .build(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .auth_layer()
                .context("invalid credentials in the kubeconfig")?,
        )
        // Impersonation (`as`, `as-groups`) from the kubeconfig.
        .layer(
            config
                .extra_headers_layer()
                .context("invalid impersonation settings in the kubeconfig")?,
        )
        .map_err(BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}
