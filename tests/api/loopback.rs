//! Every server the tests start listens on 127.0.0.1 only.

use std::net::TcpStream;

use crate::harness::emulators::emulators;
use crate::harness::stack::stack;

/// The local addresses of the listening TCP sockets on `port`, as the
/// kernel lists them (`/proc/net/tcp` and `tcp6`, hex: `0100007F` is
/// 127.0.0.1, `0000000000000000FFFF00000100007F` the same as an IPv6 socket
/// sees it, `00000000` any IPv4 address).
fn listening_addresses(port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let columns: Vec<&str> = line.split_whitespace().collect();
                    let (address, listening_port) = columns.get(1)?.split_once(':')?;
                    let listening = columns.get(3) == Some(&LISTEN)
                        && u16::from_str_radix(listening_port, 16).ok() == Some(port);
                    listening.then(|| address.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// 127.0.0.1 in `/proc/net/tcp` form, plain or IPv4-mapped in IPv6.
fn is_ipv4_loopback(hex: &str) -> bool {
    matches!(hex, "0100007F" | "0000000000000000FFFF00000100007F")
}

#[test]
fn the_emulators_the_gateway_and_cargo_lambda_watch_listen_on_loopback_only() {
    let emulators = emulators();
    let watch = format!("http://127.0.0.1:{}", stack().watch_port);
    let endpoints = [
        &emulators.dynamodb_endpoint,
        &emulators.ses_endpoint,
        &emulators.secretsmanager_endpoint,
        &stack().base,
        &watch,
    ];
    for endpoint in endpoints {
        let address = endpoint.strip_prefix("http://").expect("an http endpoint");
        TcpStream::connect(address)
            .unwrap_or_else(|error| panic!("{endpoint} does not answer: {error}"));
        let port: u16 = address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port");
        let bound = listening_addresses(port);
        assert!(!bound.is_empty(), "no listening socket on port {port}");
        assert!(
            bound.iter().all(|address| is_ipv4_loopback(address)),
            "{endpoint} listens on {bound:?}, not only on 127.0.0.1"
        );
    }
}
