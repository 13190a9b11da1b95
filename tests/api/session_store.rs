//! The session store against DynamoDB Local, beneath the routes: the
//! counter's conditional update lets exactly one of many
//! simultaneous refreshes advance a session, listing reads every session
//! of the user and no other's, and ending one removes it once.

use std::sync::Arc;

use accounts::clock::unix_now;
use accounts::config::SessionPolicy;
use accounts::store::session_items::SessionRecord;

use crate::harness::{PASSWORD, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_20_simultaneous_advances_from_one_counter_exactly_one_succeeds() {
    let app = Arc::new(TestApp::spawn().await);
    let token = app.registered_token(&app.email("ada")).await;
    let user_id = accounts::domain::UserId::parse(&app.user_id(&token).await).unwrap();
    let policy = SessionPolicy::default();
    let record = SessionRecord::begin(&user_id, 0, Some("test"), unix_now()).unwrap();
    app.state
        .store
        .create_session(&record, &policy)
        .await
        .unwrap();
    let current = record.current_token();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            let current = current.clone();
            tokio::spawn(async move {
                app.state
                    .store
                    .advance_session(&current, &policy, record.created_at, unix_now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut advanced = 0;
    for task in tasks {
        advanced += usize::from(task.await.unwrap());
    }
    assert_eq!(advanced, 1);
    let stored = app.state.store.session_records(&user_id).await.unwrap();
    let advanced_record = stored
        .iter()
        .find(|stored| stored.id == record.id)
        .expect("the session");
    assert_eq!(advanced_record.counter, 1);
    assert_eq!(advanced_record.created_at, record.created_at);
}

#[tokio::test]
async fn sessions_are_listed_per_user_and_end_once() {
    let app = TestApp::spawn().await;
    let policy = SessionPolicy::default();
    let mut users = Vec::new();
    for name in ["ada", "bob"] {
        let email = app.email(name);
        app.register(&email, PASSWORD, name)
            .await
            .assert_status(201);
        let token = app.token_for(&email, PASSWORD).await;
        users.push(accounts::domain::UserId::parse(&app.user_id(&token).await).unwrap());
    }
    let (ada, bob) = (&users[0], &users[1]);
    // Each login made a session already.
    let mut ada_sessions: Vec<_> = app
        .state
        .store
        .session_records(ada)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(ada_sessions.len(), 1);
    for _ in 0..3 {
        let record = SessionRecord::begin(ada, 0, None, unix_now()).unwrap();
        app.state
            .store
            .create_session(&record, &policy)
            .await
            .unwrap();
        ada_sessions.push(record.id);
    }
    let bobs = SessionRecord::begin(bob, 0, None, unix_now()).unwrap();
    app.state
        .store
        .create_session(&bobs, &policy)
        .await
        .unwrap();

    let listed = app.state.store.session_records(ada).await.unwrap();
    let mut ids: Vec<_> = listed.iter().map(|record| record.id.clone()).collect();
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ada_sessions.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(ids, ada_sessions);

    // Bob's session id under Ada's key is no session of hers.
    assert!(!app.state.store.end_session(ada, &bobs.id).await.unwrap());
    assert!(
        app.state
            .store
            .end_session(ada, &ada_sessions[0])
            .await
            .unwrap()
    );
    assert!(
        !app.state
            .store
            .end_session(ada, &ada_sessions[0])
            .await
            .unwrap()
    );
    assert_eq!(app.state.store.session_records(ada).await.unwrap().len(), 3);
    assert_eq!(app.state.store.session_records(bob).await.unwrap().len(), 2);
}
