//! E-mail over SMTP with lettre's blocking transport: implicit TLS (`tls`), STARTTLS
//! (`starttls`, required) or `plain`; optional authentication (user name + the channel
//! secret); a plain-text and a small HTML part.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use serde_json::Value;

use crate::db::notify::ChannelSettings;
use crate::notify::payload;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Sends the summary as an e-mail.
pub fn send(
    channel: &ChannelSettings,
    password: Option<&str>,
    payload: &Value,
    timeout: Duration,
) -> Result<(), String> {
    let s = payload::summary(payload);
    let host = channel.smtp_host.as_deref().ok_or("no SMTP host")?;
    let from: Mailbox = channel
        .email_from
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| format!("bad sender address: {e}"))?;
    let mut msg = Message::builder().from(from).subject(&s.title);
    for to in channel
        .email_to
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        msg = msg.to(to
            .parse()
            .map_err(|e| format!("bad recipient address {to:?}: {e}"))?);
    }
    let mut html = format!("<p>{}</p>", escape(&s.text).replace('\n', "<br>"));
    if let Some(l) = &s.link {
        html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape(l)));
    }
    let msg = msg
        .multipart(MultiPart::alternative_plain_html(s.text.clone(), html))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let builder = match channel.smtp_tls.as_deref().unwrap_or("starttls") {
        "tls" => SmtpTransport::relay(host).map_err(|e| format!("SMTP TLS setup: {e}"))?,
        "plain" => SmtpTransport::builder_dangerous(host),
        _ => SmtpTransport::starttls_relay(host).map_err(|e| format!("SMTP TLS setup: {e}"))?,
    };
    let mut builder = builder.timeout(Some(timeout));
    if let Some(port) = channel.smtp_port {
        builder = builder.port(port as u16);
    }
    if let (Some(user), Some(pw)) = (channel.smtp_username.as_deref(), password) {
        builder = builder.credentials(Credentials::new(user.to_string(), pw.to_string()));
    }
    builder
        .build()
        .send(&msg)
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}
