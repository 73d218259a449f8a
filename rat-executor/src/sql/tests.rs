//! The behaviour every SQL backend must show, as tests each backend's
//! module instantiates with its own store.

/// Tests over `$make`, an async fn returning `(guard, store)` whose store
/// keeps 5 log lines per run.
macro_rules! store_tests {
    ($make:ident) => {
        use chrono::Utc;
        use rat_core::{LogLevel, Phase, RunStatus, Trigger};

        async fn store() -> (
            impl Sized,
            impl RunStore
            + ScheduleStore
            + rat_core::BatchStore
            + rat_core::VersionStore
            + rat_core::NotificationStore
            + rat_core::authz::GrantStore
            + rat_core::audit::AuditStore
            + Clone,
        ) {
            $make().await
        }

        #[tokio::test]
        async fn a_batch_keeps_its_progress_and_its_cancel_request() {
            use rat_core::{Batch, BatchItem, BatchStore, ItemState};
            let (_guard, s) = store().await;
            let a: TableRef = "bronze.a".parse().unwrap();
            let mut batch = Batch::new(
                rat_core::ident::namespace("default").unwrap(),
                vec![BatchItem::waiting(a, vec![])],
            );
            s.insert_batch(&batch, "owner-1").await.unwrap();
            assert_eq!(s.batch(&batch.id).await.unwrap(), batch);
            batch.items[0].state = ItemState::Running;
            s.request_batch_cancel(&batch.id).await.unwrap();
            // A progress update keeps the cancel request made meanwhile.
            s.update_batch(&batch).await.unwrap();
            let stored = s.batch(&batch.id).await.unwrap();
            assert!(stored.cancel_requested);
            assert_eq!(stored.items[0].state, ItemState::Running);
            let unfinished = s.unfinished_batches().await.unwrap();
            assert_eq!(unfinished.len(), 1);
            assert_eq!(unfinished[0].1, "owner-1");
            batch.status = RunStatus::Cancelled;
            s.update_batch(&batch).await.unwrap();
            assert!(s.unfinished_batches().await.unwrap().is_empty());
            let again = s.request_batch_cancel(&batch.id).await.unwrap_err();
            assert_eq!(again.kind(), ErrorKind::Conflict);
            let missing = s.batch("nope").await.unwrap_err();
            assert_eq!(missing.kind(), ErrorKind::NotFound);
        }

        #[tokio::test]
        async fn versions_are_numbered_once_each_even_when_saves_race() {
            use rat_core::project::PipelineFiles;
            use rat_core::versions::NewVersion;
            use rat_core::{VersionState, VersionStore};
            let (_guard, s) = store().await;
            let table: TableRef = "silver.orders".parse().unwrap();
            let other: TableRef = "silver.other".parse().unwrap();
            let files = |sql: &str| PipelineFiles {
                sql: Some(sql.into()),
                ..Default::default()
            };
            let save = |table: TableRef, state, sql: String| {
                let s = s.clone();
                async move {
                    s.add_version(NewVersion {
                        table: &table,
                        state,
                        author: Some("alice"),
                        message: Some("why"),
                        files: &files(&sql),
                    })
                    .await
                    .unwrap()
                    .summary
                    .version
                }
            };
            // Twelve saves at once: twelve numbers, none taken twice.
            let raced = futures::future::join_all((0..12).map(|i| {
                save(
                    table.clone(),
                    VersionState::Published,
                    format!("SELECT {i}"),
                )
            }))
            .await;
            let mut numbers = raced.clone();
            numbers.sort();
            assert_eq!(numbers, (1..=12).collect::<Vec<u64>>());
            // Each pipeline counts on its own.
            assert_eq!(
                save(other.clone(), VersionState::Published, "SELECT 1".into()).await,
                1
            );
            assert_eq!(
                save(table.clone(), VersionState::Draft, "SELECT 'draft'".into()).await,
                13
            );

            let page = s.versions(&table, 5, 0).await.unwrap();
            let listed: Vec<u64> = page.iter().map(|v| v.version).collect();
            assert_eq!(listed, vec![13, 12, 11, 10, 9]);
            assert_eq!(page[0].state, VersionState::Draft);
            assert_eq!(page[0].author.as_deref(), Some("alice"));
            let last = s.versions(&table, 5, 10).await.unwrap();
            assert_eq!(
                last.iter().map(|v| v.version).collect::<Vec<_>>(),
                vec![3, 2, 1]
            );

            let newest = s.newest_version(&table).await.unwrap().unwrap();
            assert_eq!(newest.files, files("SELECT 'draft'"));
            assert_eq!(
                s.published_version(&table)
                    .await
                    .unwrap()
                    .unwrap()
                    .summary
                    .version,
                12
            );
            // The 5th save holds what that save wrote.
            let fifth = s.version(&table, 5).await.unwrap();
            assert_eq!(
                fifth.files.sql,
                Some(format!(
                    "SELECT {}",
                    raced.iter().position(|v| *v == 5).unwrap()
                ))
            );
            let missing = s.version(&table, 99).await.unwrap_err();
            assert_eq!(missing.kind(), ErrorKind::NotFound);
            assert!(missing.to_string().contains("no version 99"), "{missing}");

            // Only drafts newer than the newest published version are
            // pending; older ones stay drafts in the history.
            assert_eq!(
                save(table.clone(), VersionState::Published, "SELECT 'p'".into()).await,
                14
            );
            assert_eq!(s.discard_drafts(&table).await.unwrap(), 0);
            assert_eq!(
                save(table.clone(), VersionState::Draft, "SELECT 'd'".into()).await,
                15
            );
            assert_eq!(s.discard_drafts(&table).await.unwrap(), 1);
            assert_eq!(
                s.version(&table, 15).await.unwrap().summary.state,
                VersionState::Discarded
            );
            assert_eq!(
                s.version(&table, 13).await.unwrap().summary.state,
                VersionState::Draft
            );
            assert_eq!(s.discard_drafts(&table).await.unwrap(), 0);
            let unknown: TableRef = "gold.none".parse().unwrap();
            assert!(s.newest_version(&unknown).await.unwrap().is_none());
            assert!(s.versions(&unknown, 10, 0).await.unwrap().is_empty());
        }

        #[tokio::test]
        async fn hooks_and_deliveries_are_kept_each_event_once() {
            use rat_core::notify::DeliveryState;
            use rat_core::{Delivery, Event, EventKind, NotificationHook, NotificationStore};
            let (_guard, s) = store().await;
            let ns = |n: &str| rat_core::ident::namespace(n).unwrap();
            let made = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
            let hook = |id: &str, namespace: &str| NotificationHook {
                id: id.into(),
                namespace: ns(namespace),
                url: "http://127.0.0.1:9/h".into(),
                events: vec![EventKind::RunFailed],
                description: None,
                created_at: made,
                secret: None,
            };
            s.insert_hook(&hook("h1", "default"), "secret-1")
                .await
                .unwrap();
            s.insert_hook(&hook("h2", "other"), "secret-2")
                .await
                .unwrap();
            assert_eq!(s.hooks(None).await.unwrap().len(), 2);
            assert_eq!(
                s.hooks(Some(&ns("other"))).await.unwrap(),
                [hook("h2", "other")]
            );
            assert_eq!(s.hook_secret("h2").await.unwrap(), "secret-2");
            assert!(!format!("{:?}", s.hook("h1").await.unwrap()).contains("secret-1"));

            let run = RunId::generate();
            let event = Event {
                kind: EventKind::RunFailed,
                at: Utc::now(),
                namespace: ns("default"),
                pipeline: "bronze.orders".parse().unwrap(),
                run_id: Some(run),
                status: Some(RunStatus::Failed),
                message: Some("boom".into()),
                failed_tests: vec![],
                schedule_id: None,
            };
            let first = Delivery::new("h1", event.clone());
            // The same event again (another notifier, a retry) is kept once.
            s.enqueue(&[first.clone(), Delivery::new("h1", event.clone())])
                .await
                .unwrap();
            s.enqueue(&[Delivery::new("h1", event.clone())])
                .await
                .unwrap();
            let due = s.due_deliveries(Utc::now(), 10).await.unwrap();
            assert_eq!(due, std::slice::from_ref(&first));
            let mut tried = first.clone();
            tried.attempts = 1;
            tried.state = DeliveryState::Failed;
            tried.next_attempt_at = None;
            tried.last_error = Some("no answer".into());
            s.update_delivery(&tried).await.unwrap();
            assert!(s.due_deliveries(Utc::now(), 10).await.unwrap().is_empty());
            assert_eq!(s.deliveries("h1", 10, 0).await.unwrap(), [tried]);

            assert_eq!(s.cursor("runs").await.unwrap(), None);
            assert!(s.move_cursor("runs", None, "a").await.unwrap());
            assert!(!s.move_cursor("runs", None, "b").await.unwrap());
            assert!(!s.move_cursor("runs", Some("x"), "b").await.unwrap());
            assert!(s.move_cursor("runs", Some("a"), "b").await.unwrap());
            assert_eq!(s.cursor("runs").await.unwrap().as_deref(), Some("b"));

            s.delete_hook("h1").await.unwrap();
            assert!(s.deliveries("h1", 10, 0).await.unwrap().is_empty());
            assert_eq!(
                s.delete_hook("h1").await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }

        #[tokio::test]
        async fn finished_runs_are_read_in_the_order_they_ended() {
            let (_guard, s) = store().await;
            let a = ended(&s, "bronze.a", RunStatus::Success).await;
            let b = ended(&s, "bronze.b", RunStatus::Failed).await;
            let _running = ended(&s, "bronze.c", RunStatus::Running).await;
            let all = s.finished_after(None, 10).await.unwrap();
            let ids: Vec<&RunId> = all.iter().map(|r| &r.run_id).collect();
            assert_eq!(ids, [&a, &b]);
            let after_a = (all[0].finished_at.unwrap(), a.as_str());
            let rest = s.finished_after(Some(after_a), 10).await.unwrap();
            assert_eq!(rest.len(), 1);
            assert_eq!(rest[0].run_id, b);
            let at_a = (all[0].finished_at.unwrap(), "");
            assert_eq!(s.finished_after(Some(at_a), 1).await.unwrap()[0].run_id, a);
        }

        fn daily() -> Schedule {
            Schedule {
                id: "s1".into(),
                pipeline: "bronze.orders".parse().unwrap(),
                trigger: Trigger::Cron {
                    expression: "0 6 * * *".into(),
                },
                enabled: true,
                next_fire_at: Some(Utc::now()),
                last_fired_at: None,
                last_run_id: None,
                last_upstream_run: None,
                landing_cursor: None,
                created_at: Utc::now(),
                webhook_token: None,
                owner: Some(rat_core::principal::Principal::new("owen").unwrap()),
            }
        }

        #[tokio::test]
        async fn a_firing_is_recorded_once_however_many_schedulers_try() {
            let (_guard, s) = store().await;
            let schedule = daily();
            s.insert_schedule(&schedule).await.unwrap();
            let firing = |run: RunId| Firing {
                id: "s1".into(),
                record_id: uuid::Uuid::now_v7().simple().to_string(),
                expected_next: schedule.next_fire_at,
                expected_upstream: None,
                next_fire_at: Some(Utc::now() + chrono::Duration::days(1)),
                upstream_run: None,
                expected_cursor: None,
                landing_cursor: None,
                run_id: Some(run),
                skipped: None,
                detail: Some("cron 0 6 * * *".into()),
                kind: rat_core::TriggerKind::Cron,
                at: Utc::now(),
            };
            let first = RunId::generate();
            assert!(s.record_firing(&firing(first.clone())).await.unwrap());
            assert!(!s.record_firing(&firing(RunId::generate())).await.unwrap());
            let stored = s.schedule("s1").await.unwrap();
            assert!(stored.last_fired_at.is_some() && stored.last_run_id.is_some());
            assert!(stored.next_fire_at > schedule.next_fire_at);
            // Only the firing that counted is in the history.
            let history = s.firings("s1", 10, 0).await.unwrap();
            assert_eq!(history.len(), 1);
            assert_eq!(history[0].run_id.as_ref(), Some(&first));
            assert_eq!(history[0].detail.as_deref(), Some("cron 0 6 * * *"));

            // A landing cursor takes part in the compare-and-swap.
            let seen = rat_core::schedule::LandingCursor::of([("a.csv", Some(Utc::now()))]);
            let landed = Firing {
                expected_next: stored.next_fire_at,
                next_fire_at: stored.next_fire_at,
                landing_cursor: Some(seen.clone()),
                run_id: None,
                skipped: Some("no pipeline".into()),
                kind: rat_core::TriggerKind::Landing,
                ..firing(RunId::generate())
            };
            assert!(s.record_firing(&landed).await.unwrap());
            assert!(!s.record_firing(&landed).await.unwrap(), "the cursor moved");
            let stored = s.schedule("s1").await.unwrap();
            assert_eq!(stored.landing_cursor, Some(seen.clone()));
            let again = Firing {
                record_id: uuid::Uuid::now_v7().simple().to_string(),
                expected_cursor: Some(seen),
                ..landed
            };
            assert!(s.record_firing(&again).await.unwrap());
            let history = s.firings("s1", 10, 0).await.unwrap();
            assert_eq!(history.len(), 3);
            assert_eq!(history[0].skipped.as_deref(), Some("no pipeline"));
            assert_eq!(history[0].kind, rat_core::TriggerKind::Landing);
            assert_eq!(s.firings("s1", 10, 2).await.unwrap()[0].id, history[2].id);
            assert_eq!(s.prune_firings(1).await.unwrap(), 2);
            assert_eq!(s.firings("s1", 10, 0).await.unwrap(), history[..1]);
            let stored = s.schedule("s1").await.unwrap();

            let mut paused = stored.clone();
            paused.enabled = false;
            s.replace_schedule(&paused).await.unwrap();
            assert_eq!(s.schedules().await.unwrap(), [paused]);
            s.delete_schedule("s1").await.unwrap();
            assert!(s.firings("s1", 10, 0).await.unwrap().is_empty());
            assert_eq!(
                s.delete_schedule("s1").await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }

        async fn ended(s: &impl RunStore, table: &str, status: RunStatus) -> RunId {
            let r = RunRecord::pending(RunId::generate(), table.parse().unwrap(), "local");
            s.insert(&r).await.unwrap();
            s.append_logs(
                &r.run_id,
                &[LogRecord::now(0, LogLevel::Info, "hello".into())],
            )
            .await
            .unwrap();
            if status.is_terminal() {
                let aborted = Transition::Aborted {
                    status,
                    error: RunError::new(ErrorKind::Internal, "over"),
                    at: Utc::now(),
                };
                s.transition(&r.run_id, aborted).await.unwrap();
            }
            r.run_id
        }

        #[tokio::test]
        async fn pruning_keeps_the_newest_runs_of_each_pipeline_and_recent_logs() {
            let (_guard, s) = store().await;
            let mut a = Vec::new();
            for _ in 0..4 {
                a.push(ended(&s, "bronze.a", RunStatus::Failed).await);
            }
            let pending = ended(&s, "bronze.a", RunStatus::Pending).await;
            let b = ended(&s, "bronze.b", RunStatus::Cancelled).await;
            let retention = rat_core::RunRetention {
                keep_runs: 2,
                log_retention: std::time::Duration::from_secs(3600),
                ..Default::default()
            };
            let deleted = s.prune(&retention, Utc::now()).await.unwrap();
            // bronze.a: the pending run and the newest ended one are the
            // newest two; the three older ended runs go. bronze.b stays.
            let mut expected = a[..3].to_vec();
            expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
            let mut got = deleted.clone();
            got.sort_by(|x, y| x.as_str().cmp(y.as_str()));
            assert_eq!(got, expected);
            for run in &a[..3] {
                assert_eq!(s.get(run).await.unwrap_err().kind(), ErrorKind::NotFound);
                assert!(s.logs(run, 0, 10).await.unwrap().is_empty());
            }
            for run in [&a[3], &pending, &b] {
                s.get(run).await.unwrap();
                assert_eq!(s.logs(run, 0, 10).await.unwrap().len(), 1);
            }
            // Two hours later the ended runs' logs are past retention; the
            // pending run keeps its own.
            let later = Utc::now() + chrono::Duration::hours(2);
            assert!(s.prune(&retention, later).await.unwrap().is_empty());
            assert!(s.logs(&a[3], 0, 10).await.unwrap().is_empty());
            assert!(s.logs(&b, 0, 10).await.unwrap().is_empty());
            assert_eq!(s.logs(&pending, 0, 10).await.unwrap().len(), 1);
        }

        #[tokio::test]
        async fn a_run_ends_once() {
            let (_guard, s) = store().await;
            let r = RunRecord::pending(RunId::generate(), "bronze.a".parse().unwrap(), "local");
            s.insert(&r).await.unwrap();
            s.transition(
                &r.run_id,
                Transition::Started {
                    at: Utc::now(),
                    owner: "pid:1:1".into(),
                },
            )
            .await
            .unwrap();
            s.transition(&r.run_id, Transition::Phase(Phase::Execute))
                .await
                .unwrap();
            let aborted = Transition::Aborted {
                status: RunStatus::Failed,
                error: RunError::new(ErrorKind::Internal, "boom"),
                at: Utc::now(),
            };
            s.transition(&r.run_id, aborted.clone()).await.unwrap();
            let err = s.transition(&r.run_id, aborted).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict);
            assert_eq!(
                s.request_cancel(&r.run_id).await.unwrap_err().kind(),
                ErrorKind::Conflict
            );
            let got = s.get(&r.run_id).await.unwrap();
            assert_eq!(got.status, RunStatus::Failed);
            assert_eq!(got.phase, Some(Phase::Execute));
            assert_eq!(got.error.unwrap().message, "boom");
            assert!(s.unfinished().await.unwrap().is_empty());
            let missing = s.get(&RunId::generate()).await.unwrap_err();
            assert_eq!(missing.kind(), ErrorKind::NotFound);
        }

        #[tokio::test]
        async fn logs_are_bounded_and_deduplicated() {
            let (_guard, s) = store().await;
            let run = RunId::generate();
            let line = |seq| LogRecord {
                seq,
                at: Utc::now(),
                level: LogLevel::Warn,
                message: format!("line {seq}"),
            };
            s.append_logs(&run, &(0..4).map(line).collect::<Vec<_>>())
                .await
                .unwrap();
            s.append_logs(&run, &(2..8).map(line).collect::<Vec<_>>())
                .await
                .unwrap();
            let logs = s.logs(&run, 0, 100).await.unwrap();
            assert_eq!(
                logs.iter().map(|l| l.seq).collect::<Vec<_>>(),
                [3, 4, 5, 6, 7]
            );
            assert_eq!(logs[0].level, LogLevel::Warn);
            assert_eq!(s.logs(&run, 6, 1).await.unwrap()[0].seq, 6);
        }

        #[tokio::test]
        async fn lists_filter_by_namespace_and_layer() {
            let (_guard, s) = store().await;
            for table in ["a_b.bronze.x", "axb.bronze.y", "a_b.silver.z", "c.bronze.w"] {
                let r = RunRecord::pending(RunId::generate(), table.parse().unwrap(), "local");
                s.insert(&r).await.unwrap();
            }
            let tables = |filter: RunFilter| {
                let s = s.clone();
                async move {
                    let mut t: Vec<String> = s
                        .list(&filter)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.table.to_string())
                        .collect();
                    t.sort();
                    t
                }
            };
            // `_` in a name is not a wildcard.
            let ns = RunFilter {
                namespace: Some(rat_core::ident::namespace("a_b").unwrap()),
                ..RunFilter::default()
            };
            assert_eq!(tables(ns.clone()).await, ["a_b.bronze.x", "a_b.silver.z"]);
            let layer = RunFilter {
                layer: Some(rat_core::Layer::Bronze),
                ..ns
            };
            assert_eq!(tables(layer).await, ["a_b.bronze.x"]);
        }

        #[tokio::test]
        async fn lists_filter_by_table_and_status_newest_first() {
            let (_guard, s) = store().await;
            let mut ids = Vec::new();
            for table in ["bronze.a", "bronze.b", "bronze.a"] {
                let r = RunRecord::pending(RunId::generate(), table.parse().unwrap(), "local");
                s.insert(&r).await.unwrap();
                ids.push(r.run_id);
                std::thread::sleep(Duration::from_millis(2));
            }
            let filter = RunFilter {
                table: Some("bronze.a".parse().unwrap()),
                statuses: vec![RunStatus::Pending],
                ..RunFilter::default()
            };
            let got: Vec<RunId> = s
                .list(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.run_id)
                .collect();
            assert_eq!(got, [ids[2].clone(), ids[0].clone()]);
        }

        #[tokio::test]
        async fn lists_filter_by_submission_time() {
            let (_guard, s) = store().await;
            let day = chrono::Duration::days(1);
            let start = "2026-03-01T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap();
            // A run submitted on each of four days, at noon.
            let mut ids = Vec::new();
            for n in 0..4 {
                let at = start + day * n + chrono::Duration::hours(12);
                let id: RunId = format!("{:012x}7{:019x}", at.timestamp_millis(), n)
                    .parse()
                    .unwrap();
                let r = RunRecord::pending(id.clone(), "bronze.a".parse().unwrap(), "local");
                s.insert(&r).await.unwrap();
                ids.push(id);
            }
            let listed = |since, until| {
                let s = s.clone();
                async move {
                    let filter = RunFilter {
                        since,
                        until,
                        ..RunFilter::default()
                    };
                    let runs = s.list(&filter).await.unwrap();
                    runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>()
                }
            };
            // Days 1 and 2 (the range's end is excluded), newest first.
            let got = listed(Some(start + day), Some(start + day * 3)).await;
            assert_eq!(got, [ids[2].clone(), ids[1].clone()]);
            assert_eq!(listed(Some(start + day * 3), None).await, [ids[3].clone()]);
            assert_eq!(listed(None, Some(start + day)).await, [ids[0].clone()]);
            assert_eq!(listed(None, None).await.len(), 4);
        }
    };
}

pub(crate) use store_tests;
