//! `SmtpMailer` against a minimal SMTP server written here (tokio, loopback): greeting, EHLO,
//! optional AUTH PLAIN, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT.

use base64_free::decode_plain;
use tessera_delivery::{
    Deliver, DeliveryErrorKind, Message, Secret, SmtpConfig, SmtpMailer, TlsMode,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the server received in one transaction.
#[derive(Debug, Default, Clone)]
struct Received {
    auth: Option<String>,
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

#[derive(Clone, Copy, Default)]
struct Behaviour {
    refuse_rcpt: bool,
    require_auth: bool,
}

/// Starts the server; returns its port and a receiver of completed transactions.
async fn start_server(behaviour: Behaviour) -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = session(socket, behaviour, tx).await;
            });
        }
    });
    (port, rx)
}

async fn session(
    socket: tokio::net::TcpStream,
    behaviour: Behaviour,
    tx: mpsc::UnboundedSender<Received>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 test.local ESMTP ready\r\n").await?;
    let mut current = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if behaviour.require_auth {
                write
                    .write_all(b"250-test.local\r\n250 AUTH PLAIN\r\n")
                    .await?;
            } else {
                write.write_all(b"250 test.local\r\n").await?;
            }
        } else if upper.starts_with("AUTH PLAIN ") {
            current.auth = Some(decode_plain(&line["AUTH PLAIN ".len()..]));
            write.write_all(b"235 2.7.0 accepted\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            if behaviour.require_auth && current.auth.is_none() {
                write
                    .write_all(b"530 5.7.0 authentication required\r\n")
                    .await?;
                continue;
            }
            current.mail_from = line["MAIL FROM:".len()..].trim().to_string();
            write.write_all(b"250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            if behaviour.refuse_rcpt {
                write.write_all(b"550 5.1.1 no such user\r\n").await?;
            } else {
                current
                    .rcpt_to
                    .push(line["RCPT TO:".len()..].trim().to_string());
                write.write_all(b"250 2.1.5 ok\r\n").await?;
            }
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                data.push_str(l);
                data.push('\n');
            }
            current.data = data;
            write.write_all(b"250 2.0.0 queued\r\n").await?;
            let _ = tx.send(std::mem::take(&mut current));
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 2.0.0 ok\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            break;
        } else {
            write.write_all(b"502 5.5.2 not implemented\r\n").await?;
        }
    }
    Ok(())
}

/// Tiny base64 decoder for AUTH PLAIN (test only, avoids a dependency).
mod base64_free {
    pub fn decode_plain(input: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in input.trim().bytes() {
            if c == b'=' {
                break;
            }
            let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        String::from_utf8(out).unwrap().replace('\0', "|")
    }
}

fn config(port: u16) -> SmtpConfig {
    let mut c = SmtpConfig::new("127.0.0.1", "Tessera <noreply@tessera.test>");
    c.port = Some(port);
    c.tls = TlsMode::None;
    c.timeout_ms = 5_000;
    c
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(data: &str) -> String {
    data.split_once("\n\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn sends_recipient_subject_and_body() {
    let (port, mut rx) = start_server(Behaviour::default()).await;
    let mailer = SmtpMailer::new(&config(port)).unwrap();
    let msg = Message::email(
        "alice@example.com",
        "Your sign-in code",
        "Your code is 123456.\nIt expires in 5 minutes.\n.leading dot line",
    );
    mailer.deliver(&msg).await.unwrap();
    let got = rx.recv().await.unwrap();
    assert_eq!(got.mail_from, "<noreply@tessera.test>");
    assert_eq!(got.rcpt_to, vec!["<alice@example.com>".to_string()]);
    assert_eq!(header(&got.data, "Subject"), Some("Your sign-in code"));
    assert_eq!(header(&got.data, "To"), Some("alice@example.com"));
    assert!(header(&got.data, "From")
        .unwrap()
        .contains("noreply@tessera.test"));
    assert!(header(&got.data, "Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        body(&got.data).trim_end(),
        "Your code is 123456.\nIt expires in 5 minutes.\n.leading dot line"
    );
}

#[tokio::test]
async fn authenticates_with_plain_credentials() {
    let (port, mut rx) = start_server(Behaviour {
        require_auth: true,
        ..Behaviour::default()
    })
    .await;
    let mut c = config(port);
    c.username = Some("mailer".into());
    c.password = Some(Secret::new("s3cret-pass"));
    let mailer = SmtpMailer::new(&c).unwrap();
    mailer
        .deliver(&Message::email("bob@example.com", "Hi", "code 42"))
        .await
        .unwrap();
    let got = rx.recv().await.unwrap();
    assert_eq!(got.auth.as_deref(), Some("|mailer|s3cret-pass"));
    assert!(!format!("{mailer:?}").contains("s3cret-pass"));
}

#[tokio::test]
async fn refused_recipient_is_permanent() {
    let (port, _rx) = start_server(Behaviour {
        refuse_rcpt: true,
        ..Behaviour::default()
    })
    .await;
    let mailer = SmtpMailer::new(&config(port)).unwrap();
    let err = mailer
        .deliver(&Message::email("nobody@example.com", "Code", "code 987654"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Rejected, "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("550"), "{err}");
    assert!(!err.to_string().contains("987654"));
    assert!(!err.to_string().contains("nobody@example.com"));
}

#[tokio::test]
async fn closed_port_is_a_transport_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpMailer::new(&config(port)).unwrap();
    let err = mailer
        .deliver(&Message::email("alice@example.com", "Code", "code 111111"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Temporary, "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn silent_server_times_out() {
    // Accepts connections and never greets.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut c = config(port);
    c.timeout_ms = 200;
    let mailer = SmtpMailer::new(&c).unwrap();
    let err = mailer
        .deliver(&Message::email("alice@example.com", "Code", "code 222222"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Temporary, "{err}");
}

#[tokio::test]
async fn invalid_recipient_and_wrong_channel() {
    let (port, _rx) = start_server(Behaviour::default()).await;
    let mailer = SmtpMailer::new(&config(port)).unwrap();
    let err = mailer
        .deliver(&Message::email("not an address", "Code", "code 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Rejected);
    let err = mailer
        .deliver(&Message::sms("+15550100", "code 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Configuration);
}

#[test]
fn configuration_errors() {
    let mut c = config(25);
    c.from = "not an address".into();
    assert_eq!(
        SmtpMailer::new(&c).unwrap_err().kind,
        DeliveryErrorKind::Configuration
    );
    let mut c = config(25);
    c.username = Some("user".into());
    assert_eq!(
        SmtpMailer::new(&c).unwrap_err().kind,
        DeliveryErrorKind::Configuration
    );
    let mut c = config(25);
    c.host = " ".into();
    assert!(SmtpMailer::new(&c).is_err());
}
