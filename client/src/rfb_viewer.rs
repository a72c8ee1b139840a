//! The RFB (VNC) client end of a display connection: vnc-rs set up the one way every
//! viewer in this project uses it — the GUI's Screen tab, its benchmark and tests, and
//! the end-to-end tests.

use tokio::io::{AsyncRead, AsyncWrite};
use vnc::{PixelFormat, VncClient, VncConnector, VncEncoding, VncError};

/// Run the RFB handshake on `stream` and return the connected client.
///
/// No RFB authentication: on a display channel the TLS connection, the client's key and
/// the attestation already are the authentication (vnc-rs still wants a password future,
/// which answers nothing). The session is shared, so a second viewer does not disconnect
/// the first; pixels arrive as 32-bit BGRA; `encodings` are offered in this order of
/// preference (vnc-rs refuses an empty list).
pub async fn start_viewer<S>(stream: S, encodings: &[VncEncoding]) -> Result<VncClient, VncError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let mut connector = VncConnector::new(stream).set_auth_method(async move { Ok(String::new()) });
    for &encoding in encodings {
        connector = connector.add_encoding(encoding);
    }
    connector.allow_shared(true).set_pixel_format(PixelFormat::bgra()).build()?.try_start().await?.finish()
}
