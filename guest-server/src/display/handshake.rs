//! The server side of the RFB 3.8 handshake (RFC 6143 7.1-7.3): version, security
//! type None, ClientInit, then ServerInit with the size of a fresh frame.

use cvmc_protocol::codec::truncate_utf8;
use cvmc_protocol::rfb::handshake::{
    MAX_NAME, SECURITY_RESULT_OK, VERSION_LEN, check_security_choice, connection_failed, parse_version,
    security_result_failed, security_types_none,
};
use cvmc_protocol::rfb::{ClientInit, PixelFormat, ServerInit, VERSION_3_8};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::DisplayError;
use super::hub::{Captured, ScreenHub};

/// Run the handshake; returns the frame whose size ServerInit announced.
pub(super) async fn handshake<S>(stream: &mut S, hub: &ScreenHub, name: &str) -> Result<Captured, DisplayError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send(stream, VERSION_3_8).await?;
    let mut version = [0u8; VERSION_LEN];
    stream.read_exact(&mut version).await?;
    let version = parse_version(&version)?;
    if let Err(e) = version.require_3_8() {
        // Best effort: tell the client why before closing.
        let _ = send(stream, &connection_failed(version, &e.to_string())).await;
        return Err(e.into());
    }
    send(stream, &security_types_none()).await?;
    let chosen = stream.read_u8().await?;
    if let Err(e) = check_security_choice(chosen) {
        let _ = send(stream, &security_result_failed(&e.to_string())).await;
        return Err(e.into());
    }
    send(stream, &SECURITY_RESULT_OK).await?;
    let init = ClientInit::decode(stream.read_u8().await?);
    tracing::debug!(shared = init.shared, "display: ClientInit (the desktop is always shared)");
    let first = hub.fresh().await?;
    let server_init = ServerInit {
        width: first.frame.width,
        height: first.frame.height,
        pixel_format: PixelFormat::RGB888,
        name: truncate_utf8(name, MAX_NAME).to_owned(),
    };
    send(stream, &server_init.encode()?).await?;
    Ok(first)
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> Result<(), DisplayError> {
    stream.write_all(bytes).await?;
    stream.flush().await?;
    Ok(())
}
