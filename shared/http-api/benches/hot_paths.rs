//! The work every request repeats, at release settings (`cargo bench -p
//! http-api`): RS256 signing and verification, Argon2id at the configured parameters, body
//! parsing and the user-item mapping. Ids are `group/function`; make bench
//! reads the Argon2id medians back to judge login and cold starts by them.

use std::hint::black_box;
use std::time::Duration;

use accounts::domain::{Email, User, UserId, UserName};
use accounts::keys::{KeySet, SigningKey};
use accounts::password;
use accounts::store::{stored_user_from_item, user_item};
use accounts::token::{TokenSigner, TokenVerifier};
use criterion::{Criterion, criterion_group, criterion_main};
use http_api::http::parse_body;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request};
use secrecy::SecretString;

const PASSWORD: &str = "correct horse battery staple";

const ISSUER: &str = "https://id.example.test";
/// A test-only key (accounts/testdata), RSA-2048 like the keys users-admin makes.
const KEY: &[u8] = include_bytes!("../../accounts/testdata/rsa-2048-test-only-1.pk8.der");

/// Signing is what login pays per token; verifying, with the key set
/// already held, what every authenticated request pays.
fn jwt(c: &mut Criterion) {
    let key = SigningKey::from_pkcs8(KEY.to_vec()).expect("the test key");
    let keys = KeySet {
        active_kid: Some(key.kid.clone()),
        keys: vec![key.published(0)],
    };
    let signer = TokenSigner::new("user-api", 900);
    let verifier = TokenVerifier::new("user-api");
    let user_id = UserId::generate();
    let session_id = accounts::refresh_token::SessionId::generate();
    let issued = signer
        .issue(&key, ISSUER, &user_id, &session_id)
        .expect("a token");
    let token = secrecy::ExposeSecret::expose_secret(&issued.token).to_owned();
    let mut group = c.benchmark_group("jwt");
    group.bench_function("issue", |b| {
        b.iter(|| signer.issue(&key, ISSUER, black_box(&user_id), &session_id))
    });
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&token), &keys, ISSUER))
    });
    group.finish();
}

/// Through the same async functions the handlers call, blocking-pool hop
/// included: that is what a request pays.
fn argon2id(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let stored = runtime
        .block_on(password::hash(SecretString::from(PASSWORD)))
        .expect("a hash");
    let mut group = c.benchmark_group("argon2id");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("hash", |b| {
        b.iter(|| runtime.block_on(password::hash(SecretString::from(PASSWORD))))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            runtime.block_on(password::verify(
                SecretString::from(PASSWORD),
                Some(stored.clone()),
            ))
        })
    });
    group.finish();
}

fn body(c: &mut Criterion) {
    let json = r#"{"email": "ada@example.com", "password": "correct horse battery staple", "name": "Ada Lovelace"}"#;
    let request = || {
        let mut request = Request::new(Body::from(json));
        request.headers_mut().insert(
            CONTENT_TYPE,
            "application/json".parse().expect("a header value"),
        );
        request
    };
    let request = request();
    c.benchmark_group("body")
        .bench_function("parse_register", |b| {
            b.iter(|| parse_body::<RegisterBody>(black_box(&request)))
        });
}

/// The shape of register's request struct (functions/register).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    #[serde(rename = "email")]
    _email: String,
    #[serde(rename = "password")]
    _password: SecretString,
    #[serde(rename = "name")]
    _name: String,
}

fn user_item_mapping(c: &mut Criterion) {
    let user = User {
        id: UserId::generate(),
        email: Email::parse("ada@example.com").expect("an email"),
        name: UserName::parse("Ada Lovelace").expect("a name"),
        admin: false,
        email_verified: true,
        created_at: "2026-11-27T07:00:00Z".to_owned(),
        updated_at: "2026-11-27T07:00:00Z".to_owned(),
    };
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$2dnSt2VUo1XhF+sbzt9/yQ$3c+LKDI8MZf6XgTaIrcyLeT7jEyqBhqKw6GL6BRGKxo";
    let item = user_item(&user, hash);
    let mut group = c.benchmark_group("user_item");
    group.bench_function("to_item", |b| b.iter(|| user_item(black_box(&user), hash)));
    group.bench_function("from_item", |b| {
        b.iter(|| stored_user_from_item(black_box(&item)))
    });
    group.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = jwt, argon2id, body, user_item_mapping
}
criterion_main!(hot_paths);
